"""Tasks (the io.modelcontextprotocol/tasks extension) across processes and hosts: two gunicorn instances on
different ports share one PostgreSQL database (and Redis), as two hosts behind a load balancer would. A
task started on one is answered by the other; a task whose worker is killed mid-run turns `failed` once
its lease runs out, whoever asks; and the official conformance suite's tasks scenarios pass.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
import requests

from harness.servers import drop_database, free_port
from tests.e2e.clients.bearer_proxy import BearerProxy
from tests.e2e.official_tools import CONFORMANCE, node_environment, require
from tests.e2e.test_conformance import start_fixture_server

pytestmark = pytest.mark.e2e

MODERN = "2026-07-28"
TASKS = "io.modelcontextprotocol/tasks"
LEASE_SECONDS = 3
# The suite's tasks scenarios (tasks-status-notifications is skipped by the suite itself, pending a rewrite).
TASK_SCENARIOS = ["tasks-lifecycle", "tasks-capability-negotiation", "tasks-wire-fields",
                  "tasks-request-state-removal", "tasks-mrtr-input", "tasks-request-headers",
                  "tasks-dispatch-and-envelope", "tasks-required-task-error", "tasks-mrtr-composition"]
RESULTS_LINE = re.compile(r"Passed: (\d+)/(\d+), (\d+) failed")


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    """Host A (2 workers) and host B (1 worker) on one database; tasks lose their worker after 3 s."""
    deployment = start_fixture_server(tmp_path_factory, "tasks", threads=4,
                                      MCP_TASK_LEASE_SECONDS=str(LEASE_SECONDS))
    other_port = free_port()
    deployment.start_gunicorn(other_port, workers=1, log_path=deployment.log_path.with_name("host-b.log"))
    deployment.other_url = f"http://127.0.0.1:{other_port}/mcp"
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


def rpc(url: str, token: str, method: str, params: dict, *, name: str | None = None) -> dict:
    """A 2026-07-28 request from a client that declares the tasks extension."""
    params = {**params, "_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "extensions": {TASKS: {}}},
        "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "1"},
    }}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json",
               "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    response = requests.post(url, headers=headers, timeout=30,
                             data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
    body = response.json()
    assert "result" in body, body
    return body["result"]


def start_task(deployment, tool: str, arguments: dict) -> str:
    created = rpc(deployment.mcp_url, deployment.token, "tools/call", {"name": tool, "arguments": arguments},
                  name=tool)
    assert created["resultType"] == "task", created
    return created["taskId"]


def task_on(url: str, deployment, task_id: str) -> dict:
    return rpc(url, deployment.token, "tasks/get", {"taskId": task_id}, name=task_id)


def wait_until_terminal(url: str, deployment, task_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = task_on(url, deployment, task_id)
        if task["status"] in ("completed", "failed", "cancelled"):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} is still {task['status']} after {timeout} s")


def worker_of(deployment, task_id: str) -> tuple[str, int]:
    with psycopg.connect(deployment.database_url) as connection:
        (worker,) = connection.execute("SELECT worker FROM mcp_app_task WHERE id = %s", [task_id]).fetchone()
    host, pid = worker.rsplit(":", 1)
    return host, int(pid)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_task_started_on_one_host_is_answered_by_another_from_the_database(two_hosts):
    task_id = start_task(two_hosts, "slow_compute", {"seconds": 1, "label": "shared"})

    assert task_on(two_hosts.other_url, two_hosts, task_id)["status"] == "working"  # durable at once
    finished = wait_until_terminal(two_hosts.other_url, two_hosts, task_id, timeout=15)

    assert finished["status"] == "completed"
    assert finished["result"]["content"][0]["text"] == "Computed shared after 1.0 seconds"
    host_a, host_b = two_hosts.processes
    assert parent_of(worker_of(two_hosts, task_id)[1]) == host_a.pid  # run on A, answered by B


def test_a_question_asked_by_a_task_on_one_host_is_answered_through_the_other(two_hosts):
    task_id = start_task(two_hosts, "confirm_delete", {"filename": "report.txt"})
    deadline = time.monotonic() + 10
    while (task := task_on(two_hosts.other_url, two_hosts, task_id))["status"] != "input_required":
        assert time.monotonic() < deadline, task
        time.sleep(0.2)
    (key,) = task["inputRequests"]

    ack = rpc(two_hosts.other_url, two_hosts.token, "tasks/update", {
        "taskId": task_id, "inputResponses": {key: {"action": "accept", "content": {"confirm": True}}}}, name=task_id)

    assert ack == {"resultType": "complete", "_meta": ack["_meta"]}
    finished = wait_until_terminal(two_hosts.mcp_url, two_hosts, task_id, timeout=15)
    assert finished["result"]["content"][0]["text"] == "Deleted report.txt"


def test_a_task_whose_worker_is_killed_fails_once_its_lease_runs_out_and_any_host_reports_it(two_hosts):
    done_id = start_task(two_hosts, "slow_compute", {"seconds": 0, "label": "kept"})
    wait_until_terminal(two_hosts.mcp_url, two_hosts, done_id, timeout=10)
    task_id = start_task(two_hosts, "slow_compute", {"seconds": 120, "label": "doomed"})
    time.sleep(0.5)  # the worker took it and renewed its lease at least once soon
    _host, pid = worker_of(two_hosts, task_id)

    os.kill(pid, signal.SIGKILL)  # no goodbye: only the lease can tell
    killed_at = time.monotonic()
    finished = wait_until_terminal(two_hosts.other_url, two_hosts, task_id, timeout=LEASE_SECONDS + 10)

    assert finished["status"] == "failed"
    assert finished["error"]["code"] == -32603
    assert "result" not in finished
    assert time.monotonic() - killed_at < LEASE_SECONDS + 5
    # The results of finished tasks outlive the worker: host A's respawned workers still answer them.
    kept = task_on(two_hosts.mcp_url, two_hosts, done_id)
    assert kept["result"]["content"][0]["text"] == "Computed kept after 0.0 seconds"


# --- The official conformance suite's tasks scenarios -------------------------------------------------------
@pytest.fixture(scope="module")
def suite_url(two_hosts):
    proxy = BearerProxy(two_hosts.port, two_hosts.token).start()
    yield f"http://127.0.0.1:{proxy.port}/mcp"
    proxy.stop()


@pytest.mark.parametrize("scenario", TASK_SCENARIOS)
def test_the_conformance_suite_tasks_scenario_passes(suite_url, two_hosts, scenario, tmp_path):
    run = subprocess.run(
        [require(CONFORMANCE), "server", "--url", suite_url, "--scenario", scenario, "-o", str(tmp_path)],
        cwd=tmp_path, env=node_environment(tmp_path / "home"), capture_output=True, text=True, timeout=180,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    totals = RESULTS_LINE.search(output)
    explanation = f"{output[-6000:]}\n--- server log ---\n{two_hosts.log_path.read_text()[-3000:]}"
    assert totals is not None, explanation
    passed, checks, failed = map(int, totals.groups())
    assert (failed, passed) == (0, checks), explanation
    assert run.returncode == 0, explanation
