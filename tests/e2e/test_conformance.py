"""The official MCP conformance suite (@modelcontextprotocol/conformance 0.2.0-alpha.12) against gunicorn with
the conformance fixtures on: its `server` mode (`--suite all`, and exactly what the 2026-07-28 and
2025-11-25 revisions require, each at its own wire version), its `authorization` mode against our
authorization server, and the event-stream channel across workers.

The suite cannot send headers, so it talks to a loopback proxy that adds alice's bearer token (obtained
through the real OAuth flow): the whole protected path is what gets tested, DNS-rebinding checks
included (Host and Origin pass through the proxy unchanged). gunicorn runs 2 gthread workers of 4
threads: the client's answer to a sampling or elicitation request may reach the other worker, so it
travels through Redis; a 2026-07-28 retry with `inputResponses` may too, and carries its own state.
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
from mcp_client import McpOAuthClient, log_in_and_consent
from tests.e2e.clients.bearer_proxy import BearerProxy
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.e2e.official_tools import CLIENTS, CONFORMANCE, SDK_PYTHON, access_token, node_environment, require

pytestmark = pytest.mark.e2e

EXPECTED_FAILURES = ROOT / "tests" / "e2e" / "conformance-expected-failures.yml"
# What each run selects, and how many scenarios the pinned suite has in it (a smaller number means
# scenarios were skipped or the pin moved: both deserve a look).
SUITE_RUNS = {
    "all": (["--suite", "all"], 65),
    "2026-07-28": (["--requirements", "2026-07-28"], 50),
    "2025-11-25": (["--requirements", "2025-11-25"], 33),
}
AUTHORIZATION_SCENARIOS = 2
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
    deployment.dcr_token = dcr_token
    deployment.issuer = f"http://127.0.0.1:{port}"
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
    return {entry for entry in yaml.safe_load(EXPECTED_FAILURES.read_text()).get("server") or []}


def summary_of(output: str) -> tuple[str, dict[str, bool]]:
    """The suite's summary and each scenario's verdict (True: every check passed)."""
    summary = output[output.find("=== SUMMARY ==="):] if "=== SUMMARY ===" in output else output
    results = {match[2]: match[1] == "✓" for match in map(SUMMARY_LINE.match, summary.splitlines()) if match}
    return summary, results


def run_suite(command: list[str], tmp_path, timeout: int = 420, **kwargs) -> tuple[subprocess.CompletedProcess, str]:
    run = subprocess.run([require(CONFORMANCE), *command, "-o", str(tmp_path / "results")], cwd=tmp_path,
                         env=node_environment(tmp_path / "home"), capture_output=True, text=True, timeout=timeout,
                         **kwargs)
    return run, re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)


@pytest.mark.needs_tools
@pytest.mark.parametrize("selection", SUITE_RUNS)
def test_conformance_suite_passes_every_scenario_but_the_listed_expected_failures(selection, suite_target, tmp_path):
    arguments, scenarios = SUITE_RUNS[selection]
    run, output = run_suite(["server", "--url", suite_target.suite_url, *arguments, "--expected-failures",
                             str(EXPECTED_FAILURES)], tmp_path)
    summary, results = summary_of(output)
    failed = {scenario for scenario, passed in results.items() if not passed}
    explanation = f"{summary}\n--- failed checks ---\n{failed_checks(tmp_path / 'results')}\n--- server log ---\n" \
                  f"{suite_target.log_path.read_text()[-4000:]}"

    assert len(results) == scenarios, explanation
    assert failed == expected_failures() & set(results), explanation
    assert run.returncode == 0, explanation


def failed_checks(results) -> str:
    """Each failed or warned check of a run (from the suite's checks.json files), with its error."""
    lines = []
    for path in sorted(results.glob("*/checks.json")):
        for check in json.loads(path.read_text()):
            if check.get("status") in ("FAILURE", "WARNING"):
                lines.append(f"{path.parent.name}: {check.get('id')} {check['status']}: {check.get('errorMessage')}")
    return "\n".join(lines)[-6000:]


@pytest.mark.needs_tools
def test_conformance_suite_authorization_scenarios_pass_against_our_authorization_server(suite_target, tmp_path):
    """Metadata, then an authorization code grant with PKCE: the suite prints the authorization URL for a
    person to open; alice signs in and consents, and her browser lands on the suite's callback."""
    callback_port = free_port()
    redirect_uri = f"http://127.0.0.1:{callback_port}/callback"
    client = McpOAuthClient(suite_target.mcp_url)
    client.discover()
    registered = client.register(redirect_uri=redirect_uri, initial_access_token=suite_target.dcr_token,
                                 client_name="conformance-authorization")
    command = [require(CONFORMANCE), "authorization", "--url", suite_target.issuer, "--client-id",
               registered.client_id, "--resource", suite_target.mcp_url, "--port", str(callback_port),
               "-o", str(tmp_path / "results")]
    suite = subprocess.Popen(command, cwd=tmp_path, env=node_environment(tmp_path / "home"), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        printed = []
        for line in suite.stdout:
            printed.append(line)
            if line.startswith(f"{suite_target.issuer}/") and "response_type=code" in line:
                landing = log_in_and_consent(line.strip(), redirect_uri, TEST_USERNAME, TEST_PASSWORD)
                requests.get(landing, timeout=30)  # the browser follows the redirect to the suite's listener
        suite.wait(timeout=120)
    finally:
        if suite.poll() is None:
            suite.kill()
    output = re.sub(r"\x1b\[[0-9;]*m", "", "".join(printed))
    summary, results = summary_of(output)
    explanation = f"{output[-6000:]}\n--- failed checks ---\n{failed_checks(tmp_path / 'results')}"

    assert len(results) == AUTHORIZATION_SCENARIOS, explanation
    assert all(results.values()), explanation
    assert suite.returncode == 0, explanation


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
