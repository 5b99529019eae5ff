"""The official MCP tools as the e2e tests run them (installed in tools/ by `make tools`), and an access
token obtained the way a real client gets one: discovery, registration with an initial access token,
login and consent as alice, code exchange with PKCE (mcp_client)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.servers import ROOT
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
