"""mcp-remote as shipped (the stdio bridge Claude Desktop and other stdio-only clients use) against gunicorn:
its first sign-in through "the browser" (the headless stand-in signs in and consents as alice), a tool call
over its stdin/stdout, reuse of the stored tokens by the next run, and refresh once the access token expired.

mcp-remote cannot send an initial access token with its registration, so this deployment allows open
registration (DCR_OPEN_REGISTRATION=true), as an operator does for Claude Desktop
(docs/clients/claude-desktop-mcp-remote.md).
A client the operator pre-registers works too, where registration is closed (--static-oauth-client-info).
mcp-remote refreshes an access token that has less than a minute left before using it, so a deployment with the
default lifetime shows reuse as is, and a second server on the same database with 5-second tokens shows refresh.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from harness.servers import drop_database, free_port, make_deployment
from tests.e2e.conftest import add_test_person
from tests.e2e.official_tools import NODE_BIN, browser_calls, node_environment, require, with_browser_standin
from tests.support.line_process import LineProcess

pytestmark = [pytest.mark.e2e, pytest.mark.needs_tools]
SHORT_LIFETIME = 5


@dataclass
class McpRemoteHome:
    """One person's machine for one server: mcp-remote's private HOME and config directory."""

    mcp_url: str
    home: Path
    env: dict[str, str]
    calls: Path

    def stored(self, name: str) -> dict:
        files = list((self.home / ".mcp-auth" / "mcp-remote-v1").glob(f"*_{name}.json"))
        assert len(files) == 1, files
        return json.loads(files[0].read_text())


def make_home(mcp_url: str, home: Path) -> McpRemoteHome:
    env = node_environment(home)
    env["MCP_REMOTE_CONFIG_DIR"] = str(home / ".mcp-auth")
    env, calls = with_browser_standin(env, home)
    return McpRemoteHome(mcp_url, home, env, calls)


def reply(run: LineProcess, request_id: int) -> dict:
    def is_reply(line: str) -> bool:
        return line.startswith("{") and json.loads(line).get("id") == request_id
    return json.loads(run.expect(is_reply, timeout=90))


def mcp_remote_echo(machine: McpRemoteHome, message: str, *options: str, callback_port: int | None = None) -> dict:
    """One mcp-remote run, spoken to as an MCP host does over stdio: initialize, initialized, tools/call echo;
    closing its stdin ends it. Its log (stderr) goes to a file, shown when a reply does not come."""
    log = machine.home / "mcp-remote.log"
    with open(log, "a") as stderr:
        port = [str(callback_port)] if callback_port else []  # else derived from the server URL (may be taken)
        run = LineProcess([require(NODE_BIN / "mcp-remote"), machine.mcp_url, *port, "--allow-http", *options],
                          cwd=machine.home, env=machine.env, stderr=stderr)
        try:
            run.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "stdio-host", "version": "1.0"}}}))
            initialized = reply(run, 1)
            run.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            run.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                 "params": {"name": "echo", "arguments": {"message": message}}}))
            called = reply(run, 2)
            run.process.stdin.close()
            run.finish()
        except AssertionError as failure:
            raise AssertionError(f"{failure}\nmcp-remote log:\n{log.read_text()[-4000:]}") from None
        finally:
            run.stop()
    assert "result" in initialized, initialized
    return called


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> dict:
    """Three servers on one database: open registration with the default token lifetime ("steady") and with
    5-second access tokens ("short"), and one that allows no registration without a token ("closed")."""
    ports = {"steady": free_port(), "short": free_port(), "closed": free_port()}
    deployment = make_deployment(tmp_path_factory.mktemp("mcp-remote"), ports["steady"], DCR_OPEN_REGISTRATION="true")
    add_test_person(deployment)
    logs = tmp_path_factory.mktemp("mcp-remote-logs")
    settings = {"steady": {}, "short": {"ACCESS_TOKEN_LIFETIME": str(SHORT_LIFETIME)},
                "closed": {"DCR_OPEN_REGISTRATION": "false"}}
    for name, port in ports.items():
        deployment.start_gunicorn(port, workers=1, log_path=logs / f"{name}.log",
                                  extra_env={"OAUTH_ISSUER": f"http://127.0.0.1:{port}", **settings[name]})
    yield {"deployment": deployment, **{name: f"http://127.0.0.1:{port}/mcp" for name, port in ports.items()}}
    deployment.stop()
    drop_database(deployment.database_url)


@pytest.fixture(scope="module")
def signed_in(servers, tmp_path_factory) -> tuple[McpRemoteHome, dict]:
    """alice's first mcp-remote run against the steady server, and its tool result."""
    machine = make_home(servers["steady"], tmp_path_factory.mktemp("alice-steady"))
    return machine, mcp_remote_echo(machine, "hello through mcp-remote")


def test_first_run_registers_signs_in_through_the_browser_and_calls_echo(signed_in):
    machine, called = signed_in

    assert called["result"]["content"][0]["text"] == "Echo: hello through mcp-remote"
    opened, called_back = browser_calls(machine.calls)
    assert opened["event"] == "opened" and "/oauth/authorize?" in opened["url"]
    assert called_back == {"event": "called_back", "status": 200, "location": called_back["location"]}
    client = machine.stored("client_info")  # registered through open DCR, with its loopback callback
    assert f"client_id={client['client_id']}" in opened["url"]
    assert client["redirect_uris"][0].startswith("http://localhost:")
    assert client["token_endpoint_auth_method"] == "none"
    assert machine.stored("tokens")["refresh_token"]


def test_second_run_reuses_the_stored_tokens_without_opening_the_browser(signed_in):
    machine, _ = signed_in
    first_tokens = machine.stored("tokens")

    called = mcp_remote_echo(machine, "hello again")

    assert called["result"]["content"][0]["text"] == "Echo: hello again"
    assert len(browser_calls(machine.calls)) == 2  # still only the first run's opened + called_back
    assert machine.stored("tokens") == first_tokens


def test_an_expired_access_token_is_refreshed_without_opening_the_browser(servers, tmp_path):
    machine = make_home(servers["short"], tmp_path)
    mcp_remote_echo(machine, "first")
    before = machine.stored("tokens")
    time.sleep(max(0.0, before["expires_at"] / 1000 - time.time()) + 1)
    expired = requests.post(servers["short"], json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"Authorization": f"Bearer {before['access_token']}",
                                     "Accept": "application/json, text/event-stream"}, timeout=10)
    assert expired.status_code == 401  # the server refuses it: mcp-remote must refresh

    called = mcp_remote_echo(machine, "after expiry")

    assert called["result"]["content"][0]["text"] == "Echo: after expiry"
    assert len(browser_calls(machine.calls)) == 2  # the first sign-in only
    after = machine.stored("tokens")
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # rotated on use


def test_a_pre_registered_client_signs_in_where_registration_is_closed(servers, tmp_path):
    # localhost on any port is accepted at authorization (RFC 8252), so the port mcp-remote picks is free.
    printed = servers["deployment"].manage("register_client", "--name", "Claude Desktop (mcp-remote)", "--public",
                                           "--redirect-uri", "http://localhost:3334/oauth/callback").stdout
    client_id = printed.split("client_id: ", 1)[1].split()[0]
    machine = make_home(servers["closed"], tmp_path)
    refused = requests.post(servers["closed"].replace("/mcp", "/oauth/register"), timeout=10,
                            json={"redirect_uris": ["http://localhost:3334/oauth/callback"]})
    assert refused.status_code == 401  # mcp-remote could not register itself here

    # A pinned client pins its callback port too (mcp-remote then never moves to a free one): pick a free one.
    called = mcp_remote_echo(machine, "pre-registered", "--static-oauth-client-info",
                             json.dumps({"client_id": client_id}), callback_port=free_port())

    assert called["result"]["content"][0]["text"] == "Echo: pre-registered"
    opened, called_back = browser_calls(machine.calls)
    assert f"client_id={client_id}" in opened["url"] and called_back["status"] == 200
