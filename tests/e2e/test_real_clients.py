"""Real MCP clients against the session's gunicorn deployment, with alice's access token from the real
OAuth flow (registration with an initial access token, login, consent, code exchange with PKCE):
the MCP Inspector CLI 2.x and the official Python SDK client."""

import json
import subprocess

import pytest

from harness.servers import ROOT
from tests.e2e.official_tools import CLIENTS, INSPECTOR, SDK_PYTHON, access_token, node_environment, require

pytestmark = [pytest.mark.e2e, pytest.mark.needs_tools]


@pytest.fixture(scope="module")
def mcp_url(deployment) -> str:
    return f"{deployment.base_url}/mcp"


@pytest.fixture(scope="module")
def token(deployment, mcp_url) -> str:
    dcr_token = deployment.manage("issue_dcr_token", "--name", "real-clients").stdout.strip().splitlines()[-1]
    return access_token(mcp_url, dcr_token)


def inspector(mcp_url: str, home, *arguments: str, token: str | None = None) -> subprocess.CompletedProcess:
    headers = ["--header", f"Authorization: Bearer {token}"] if token else []
    return subprocess.run(
        # --stored-auth-only: never start the interactive OAuth login (it would wait for a browser).
        [require(INSPECTOR), "--cli", mcp_url, "--transport", "http", *headers, "--stored-auth-only", "--format",
         "json", *arguments],
        cwd=ROOT, env=node_environment(home), capture_output=True, text=True, timeout=90,
    )


def sdk_client(mcp_url: str, *arguments: str, token: str | None = None) -> tuple[int, list[dict]]:
    env = {"MCP_TOKEN": token} if token else {}
    run = subprocess.run([require(SDK_PYTHON), str(CLIENTS / "sdk_client.py"), mcp_url, *arguments], cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=90)
    steps = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert steps, run.stdout + run.stderr
    return run.returncode, steps


def test_inspector_cli_lists_the_tools_with_a_bearer_token(mcp_url, token, tmp_path):
    run = inspector(mcp_url, tmp_path, "--method", "tools/list", token=token)

    assert run.returncode == 0, run.stdout + run.stderr
    tools = {tool["name"]: tool for tool in json.loads(run.stdout)["result"]["tools"]}
    assert {"echo", "whoami"} <= set(tools)
    assert tools["echo"]["inputSchema"]["properties"]["message"]["type"] == "string"
    assert "test_simple_text" not in tools  # the conformance fixtures are off by default


def test_inspector_cli_calls_echo_with_a_bearer_token(mcp_url, token, tmp_path):
    run = inspector(mcp_url, tmp_path, "--method", "tools/call", "--tool-name", "echo",
                    "--tool-arg", "message=hello from the inspector", token=token)

    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)["result"]
    assert result.get("isError") in (None, False)
    assert result["content"][0]["text"] == "Echo: hello from the inspector"


def test_inspector_cli_without_a_token_is_refused(mcp_url, tmp_path):
    run = inspector(mcp_url, tmp_path, "--method", "tools/list")

    assert run.returncode != 0
    error = json.loads(run.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "auth_required"
    assert "invalid_token" in error["message"]


def test_sdk_client_initializes_lists_and_calls_echo_with_a_bearer_token(mcp_url, token):
    status, steps = sdk_client(mcp_url, "--tool", "echo", "--args", '{"message": "hello from the sdk"}', token=token)

    assert status == 0, steps
    initialize, listed, called = steps
    assert initialize["server"]["name"]
    assert {"echo", "whoami"} <= set(listed["tools"])
    assert called["result"]["content"][0]["text"] == "Echo: hello from the sdk"


def test_sdk_client_reads_who_it_is_from_whoami(mcp_url, token):
    status, steps = sdk_client(mcp_url, "--tool", "whoami", "--args", "{}", token=token)

    assert status == 0, steps
    assert "alice" in json.dumps(steps[-1]["result"])


def test_sdk_client_without_a_token_stops_at_401(mcp_url):
    status, steps = sdk_client(mcp_url, "--tool", "echo")

    assert status == 2, steps
    assert steps[-1]["auth_failures"][0]["status"] == 401
    assert "resource_metadata=" in steps[-1]["auth_failures"][0]["www_authenticate"]
