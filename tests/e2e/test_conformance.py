"""The official MCP conformance suite (@modelcontextprotocol/conformance 0.1.16, `server`, active scenarios)
against gunicorn with the conformance fixtures on, and the event-stream channel across workers.

The suite cannot send headers, so it talks to a loopback proxy that adds alice's bearer token (obtained
through the real OAuth flow): the whole protected path is what gets tested, DNS-rebinding checks
included (Host and Origin pass through the proxy unchanged). gunicorn runs 2 gthread workers of 4
threads: the client's answer to a sampling or elicitation request may reach the other worker, so it
travels through Redis.
"""

import json
import os
import re
import subprocess
import uuid

import pytest
import requests
import yaml

from harness.servers import ROOT, drop_database, e2e_redis_url, free_port, make_deployment
from tests.e2e.clients.bearer_proxy import BearerProxy
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.e2e.official_tools import CLIENTS, CONFORMANCE, SDK_PYTHON, access_token, node_environment, require

pytestmark = pytest.mark.e2e

EXPECTED_FAILURES = ROOT / "tests" / "e2e" / "conformance-expected-failures.yml"
# conformance 0.1.16 has 32 server scenarios; json-schema-2020-12 and server-sse-polling are pending.
ACTIVE_SCENARIOS = 30
SUMMARY_LINE = re.compile(r"^([✓✗]) (\S+): (\d+) passed, (\d+) failed$")
PROTOCOL_VERSION = "2025-11-25"


def start_fixture_server(tmp_path_factory, name: str, threads: int, **env: str):
    """gunicorn with the conformance fixtures on, alice, and an initial access token. 2 workers when the
    cache is shared (Redis); without it the answers' mailboxes live in one process, so 1 worker."""
    port = free_port()
    dcr_token = f"dcr-{uuid.uuid4().hex}"
    deployment = make_deployment(tmp_path_factory.mktemp(name), port, MCP_CONFORMANCE_FIXTURES="true",
                                 DCR_AUTH_TOKEN=dcr_token, GUNICORN_THREADS=str(threads),
                                 GUNICORN_GRACEFUL_TIMEOUT="5", **env)
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{TEST_USERNAME}', password='{TEST_PASSWORD}')")
    deployment.log_path = tmp_path_factory.mktemp(f"{name}-logs") / "gunicorn.log"
    deployment.start_gunicorn(port, workers=2 if deployment.env["REDIS_URL"] else 1, log_path=deployment.log_path)
    deployment.port = port
    deployment.mcp_url = f"http://127.0.0.1:{port}/mcp"
    deployment.token = access_token(deployment.mcp_url, dcr_token)
    return deployment


@pytest.fixture(scope="module")
def suite_target(tmp_path_factory):
    """The gthread deployment and the bearer proxy in front of it."""
    deployment = start_fixture_server(tmp_path_factory, "conformance", threads=4)
    proxy = BearerProxy(deployment.port, deployment.token).start()
    deployment.suite_url = f"http://127.0.0.1:{proxy.port}/mcp"
    yield deployment
    proxy.stop()
    deployment.stop()
    drop_database(deployment.database_url)


def expected_failures() -> set[str]:
    return set(yaml.safe_load(EXPECTED_FAILURES.read_text()).get("server") or [])


@pytest.mark.needs_tools
def test_conformance_suite_passes_every_active_scenario_but_the_listed_expected_failures(suite_target, tmp_path):
    run = subprocess.run(
        [require(CONFORMANCE), "server", "--url", suite_target.suite_url, "--expected-failures",
         str(EXPECTED_FAILURES), "-o", str(tmp_path / "results")],
        cwd=tmp_path, env=node_environment(tmp_path / "home"), capture_output=True, text=True, timeout=420,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    summary = output[output.find("=== SUMMARY ==="):]
    results = {match[2]: match[1] == "✓" for match in map(SUMMARY_LINE.match, summary.splitlines()) if match}
    failed = {scenario for scenario, passed in results.items() if not passed}
    explanation = f"{summary}\n--- failed checks ---\n{failed_checks(output)}\n--- server log ---\n" \
                  f"{suite_target.log_path.read_text()[-4000:]}"

    assert len(results) == ACTIVE_SCENARIOS, explanation
    assert failed == expected_failures(), explanation
    assert run.returncode == 0, explanation


def failed_checks(output: str) -> str:
    """The suite's '=== Failed Checks ===' sections, which name each failed check and its error."""
    return "\n".join(line for line in output.splitlines()
                     if line.strip().startswith(("- ", "Error:")) or "Running client scenario" in line)[-6000:]


# --- The event-stream channel, observed directly ---------------------------------------------------------------
def post(deployment, message: dict, accept: str = "application/json, text/event-stream", **kwargs):
    return requests.post(deployment.mcp_url, data=json.dumps(message), timeout=30, headers={
        "Authorization": f"Bearer {deployment.token}", "Content-Type": "application/json", "Accept": accept,
        "MCP-Protocol-Version": PROTOCOL_VERSION}, **kwargs)


def call(name: str, arguments: dict, request_id: int = 1) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def sse_messages(response: requests.Response):
    """The JSON-RPC messages of an event stream, as they arrive."""
    data = []
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            yield json.loads("\n".join(data))
            data = []


@pytest.fixture(scope="module")
def sync_workers(tmp_path_factory):
    """2 single-threaded workers: while one streams a call, only the other can take the client's answer."""
    if not e2e_redis_url():
        message = "the answer crosses workers through Redis: set REDIS_URL (.ci/run starts Redis)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    deployment = start_fixture_server(tmp_path_factory, "sync-workers", threads=1, MCP_CLIENT_REQUEST_TIMEOUT="20")
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


def test_an_elicitation_answer_posted_to_the_other_worker_reaches_the_waiting_tool(sync_workers):
    stream = post(sync_workers, call("test_elicitation", {"message": "Who are you?"}), stream=True)
    assert stream.status_code == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")

    messages = sse_messages(stream)
    request = next(messages)
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Who are you?"
    # This worker is busy streaming: the answer can only be served by the other process.
    answer = post(sync_workers, {"jsonrpc": "2.0", "id": request["id"], "result": {
        "action": "accept", "content": {"username": "alice", "email": "alice@example.com"}}})
    assert answer.status_code == 202, answer.text
    final = next(messages)

    assert final["id"] == 1
    assert final["result"]["content"][0]["text"] == (
        'User response: action=accept, content={"username": "alice", "email": "alice@example.com"}')


def test_log_and_progress_notifications_stream_before_the_result(suite_target):
    stream = post(suite_target, {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "p-5"}}}, stream=True)

    messages = list(sse_messages(stream))

    assert [message["params"]["progress"] for message in messages[:-1]] == [0, 50, 100]
    assert {message["params"]["progressToken"] for message in messages[:-1]} == {"p-5"}
    assert messages[-1] == {"jsonrpc": "2.0", "id": 5, "result": {"content": [{"type": "text", "text": "p-5"}]}}


def test_a_client_that_accepts_only_json_gets_a_plain_answer_saying_why_it_cannot_be_asked(suite_target):
    response = post(suite_target, call("test_sampling", {"prompt": "hi"}), accept="application/json")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    result = response.json()["result"]
    assert result["isError"] is True
    assert "sampling/createMessage" in result["content"][0]["text"]


def test_a_tool_that_sends_nothing_is_answered_as_json_even_to_a_client_that_accepts_a_stream(suite_target):
    response = post(suite_target, call("test_simple_text", {}))

    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["result"]["content"][0]["text"] == "This is a simple text response for testing."


def sdk_call(deployment, tool: str, arguments: dict) -> dict:
    """The official Python SDK client's tools/call step (it answers sampling and elicitation requests and
    records the notifications it receives)."""
    run = subprocess.run(
        [require(SDK_PYTHON), str(CLIENTS / "sdk_client.py"), deployment.mcp_url, "--tool", tool,
         "--args", json.dumps(arguments)],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", "MCP_TOKEN": deployment.token}, capture_output=True, text=True,
        timeout=90)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.needs_tools
def test_the_python_sdk_client_answers_an_elicitation_sent_during_a_call(suite_target):
    called = sdk_call(suite_target, "test_elicitation", {"message": "Who are you?"})

    assert called["result"]["content"][0]["text"] == (
        'User response: action=accept, content={"username": "sdk-user", "email": "sdk@example.com"}')


@pytest.mark.needs_tools
def test_the_python_sdk_client_receives_the_log_and_progress_notifications_of_a_call(suite_target):
    logged = sdk_call(suite_target, "test_tool_with_logging", {})
    progressed = sdk_call(suite_target, "test_tool_with_progress", {})

    assert [note["data"] for note in logged["notifications"]] == [
        "Tool execution started", "Tool processing data", "Tool execution completed"]
    assert [note["progress"] for note in progressed["notifications"]] == [0, 50, 100]
