"""The official TypeScript MCP clients (`@modelcontextprotocol/client` 2.x and `@modelcontextprotocol/sdk` 1.x)
and panva's strict `oauth4webapi` against the session's gunicorn deployment (initial-access-token DCR).

The SDK clients run their own OAuth provider: registration (with the initial access token added to that one
request), then the browser, played by the headless stand-in ($BROWSER), which signs in and consents as alice
and calls the script's loopback listener back. oauth4webapi's script does every OAuth step with its own
request builders and response processors; the test plays the person between authorize and callback."""

from __future__ import annotations

import json
import subprocess

import pytest

from harness.servers import ROOT
from mcp_client import log_in_and_consent
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.e2e.official_tools import (
    CLIENTS, NODE_BIN, access_token, browser_calls, node_environment, require, with_browser_standin,
)
from tests.support.line_process import LineProcess

pytestmark = [pytest.mark.e2e, pytest.mark.needs_tools]
V2, V1 = "client", "sdk"  # the --sdk names: @modelcontextprotocol/client, @modelcontextprotocol/sdk


@pytest.fixture(scope="module")
def mcp_url(deployment) -> str:
    return f"{deployment.base_url}/mcp"


@pytest.fixture(scope="module")
def dcr_token(issue_dcr_token) -> str:
    return issue_dcr_token("typescript-clients")


def events(lines: list[str]) -> dict[str, dict]:
    """The script's JSON lines by event name (the last of each)."""
    return {event["event"]: event for event in map(json.loads, (line for line in lines if line.startswith("{")))}


def ts_client(mcp_url: str, home, *arguments: str) -> tuple[int, dict[str, dict], list[dict]]:
    env, calls = with_browser_standin(node_environment(home), home)
    run = subprocess.run([require(NODE_BIN / "node"), str(CLIENTS / "ts_client.mjs"), mcp_url, *arguments],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    seen = events(run.stdout.splitlines())
    assert seen, run.stdout + run.stderr
    return run.returncode, seen, browser_calls(calls)


@pytest.mark.parametrize("sdk, negotiation, protocol_versions", [
    (V2, "legacy", {"2025-11-25", "2025-06-18"}),
    (V2, "2026-07-28", {"2026-07-28"}),
    (V1, "legacy", {None}),  # v1 does not say which version it negotiated
])
def test_typescript_sdk_signs_in_with_its_oauth_provider_then_lists_tools_and_calls_echo(
        mcp_url, dcr_token, tmp_path, sdk, negotiation, protocol_versions):
    status, seen, calls = ts_client(mcp_url, tmp_path, "--sdk", sdk, "--negotiation", negotiation,
                                    "--initial-access-token", dcr_token)

    assert status == 0, seen
    assert seen["signed_in"]["client_id"] and seen["signed_in"]["has_refresh_token"]
    assert [call["event"] for call in calls] == ["opened", "called_back"]
    assert calls[1]["status"] == 200
    assert {"echo", "whoami"} <= set(seen["tools"]["tools"])
    assert seen["tools"]["protocol_version"] in protocol_versions
    assert seen["result"]["result"]["content"][0]["text"] == "Echo: hello from TypeScript"


@pytest.mark.parametrize("sdk", [V2, V1])
def test_typescript_sdk_calls_echo_with_a_bearer_token_from_the_real_flow(mcp_url, dcr_token, tmp_path, sdk):
    token = access_token(mcp_url, dcr_token)

    status, seen, calls = ts_client(mcp_url, tmp_path, "--sdk", sdk, "--token", token, "--message", "bearer")

    assert status == 0, seen
    assert calls == []
    assert seen["result"]["result"]["content"][0]["text"] == "Echo: bearer"


def test_oauth4webapi_accepts_every_response_of_discovery_registration_code_exchange_and_refresh(
        mcp_url, dcr_token):
    run = LineProcess([require(NODE_BIN / "node"), str(CLIENTS / "oauth4webapi_client.mjs"), mcp_url,
                       "--initial-access-token", dcr_token], cwd=ROOT)
    try:
        authorize = json.loads(run.expect(lambda line: json.loads(line)["event"] in ("authorize", "error"), 60))
        assert authorize["event"] == "authorize", run.output()
        run.send(log_in_and_consent(authorize["url"], authorize["redirect_uri"], TEST_USERNAME, TEST_PASSWORD))
        status = run.finish(timeout=60)
    finally:
        run.stop()
    seen = events(run.seen)

    assert status == 0, run.output()
    assert seen["challenge"]["status"] == 401
    assert seen["challenge"]["parameters"]["resource_metadata"].endswith("/.well-known/oauth-protected-resource/mcp")
    assert seen["resource_metadata"]["resource"] == mcp_url
    assert seen["tokens"]["has_refresh_token"] and seen["tokens"]["scope"] == "mcp:tools"
    assert seen["refreshed"] == {"event": "refreshed", "rotated": True, "new_access_token": True}
    assert seen["mcp"]["status"] == 200 and seen["mcp"]["result"]["content"][0]["text"] == "Echo: after refresh"
    # RFC 9068 validation by a third party needs the server's public keys: it runs whenever jwks_uri is published.
    assert seen["jwt_access_token"]["validated"] is bool(seen["authorization_server_metadata"]["jwks_uri"])
