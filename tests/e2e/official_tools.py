"""The official MCP tools as the e2e tests run them (installed in tools/ by `make tools`), and an access
token obtained the way a real client gets one: discovery, registration with an initial access token,
login and consent as alice, code exchange with PKCE (mcp_client)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.servers import PYTHON, ROOT
from mcp_client import McpOAuthClient, log_in_and_consent
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME

TOOLS = ROOT / "tools"
NODE_BIN = TOOLS / "node_modules" / ".bin"
CONFORMANCE = NODE_BIN / "conformance"
INSPECTOR = NODE_BIN / "mcp-inspector"
SDK_PYTHON = TOOLS / "venv" / "bin" / "python"
CLIENTS = ROOT / "tests" / "e2e" / "clients"
LOOPBACK_REDIRECT = "http://127.0.0.1:33418/callback"


def require(path: Path) -> str:
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make tools` (it installs the pinned MCP tools)")
    return str(path)


def node_environment(home: Path) -> dict[str, str]:
    """Node 22 from tools/ first on PATH (the machine's Node 20 cannot run the suite); a private HOME so
    the Inspector stores nothing in the user's."""
    require(NODE_BIN / "node")
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "MCP_STORAGE_DIR": str(home),
        "MCP_INSPECTOR_SECRET_STORE": "memory",
        "NO_COLOR": "1",
    }


def access_token(mcp_url: str, initial_access_token: str) -> str:
    """alice's access token for `mcp_url`, from the real OAuth flow."""
    client = McpOAuthClient(mcp_url)
    client.discover()
    client.register(redirect_uri=LOOPBACK_REDIRECT, initial_access_token=initial_access_token,
                    client_name="mcp-official-tools")
    request = client.authorization_request()
    redirect = log_in_and_consent(request.url, LOOPBACK_REDIRECT, TEST_USERNAME, TEST_PASSWORD)
    return client.finish_authorization(request, redirect).access_token


def with_browser_standin(env: dict[str, str], home: Path) -> tuple[dict[str, str], Path]:
    """`env` changed so that a client's "open the browser" runs the headless stand-in (it signs in and
    consents as alice, then delivers the redirect), and the file where the stand-in records each call.
    Both ways a Node client finds a browser lead to it: $BROWSER (read by the `open` package's
    xdg-open when no desktop is detected), and `xdg-open` first on PATH."""
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nexec "{PYTHON}" "{CLIENTS / "browser_standin.py"}" "$@"\n')
    opener.chmod(0o755)
    calls = home / "browser-calls.jsonl"
    env = {
        **{name: value for name, value in env.items() if name not in ("DISPLAY", "WAYLAND_DISPLAY")},
        "BROWSER": str(opener),
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "BROWSER_STANDIN_LOG": str(calls),
        "BROWSER_STANDIN_USERNAME": TEST_USERNAME,
        "BROWSER_STANDIN_PASSWORD": TEST_PASSWORD,
    }
    return env, calls


def browser_calls(calls: Path) -> list[dict]:
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
