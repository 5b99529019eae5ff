"""Helpers for the /mcp tests: a client of each protocol version, holding alice's token for servicenow_client
(the personas of tests/conftest.py, the token from tests/support/tokens.py)."""

import json

import pytest

from tests.support.tokens import issue_access_token

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ALL_VERSIONS = ["2025-06-18", "2025-11-25", "2026-07-28"]


@pytest.fixture(autouse=True)
def serve_test_tools(settings):
    """/mcp serves the tests' registry: the product's tools and the test tools (tests/mcp/tools_for_tests.py)."""
    settings.MCP_REGISTRY = "tests.mcp.tools_for_tests.registry"


@pytest.fixture
def token(alice, servicenow_client):
    return issue_access_token(servicenow_client, alice)


def message(method, params=None, id=1):
    body = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        body["id"] = id
    if params is not None:
        body["params"] = params
    return body


def modern_params(params=None):
    return {
        **(params or {}),
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
        },
    }


class Mcp:
    """POSTs to /mcp the way a client of a given protocol version does."""

    def __init__(self, client, token=None, version=LEGACY):
        self.client, self.token, self.version = client, token, version

    def post(self, body, *, headers=None, token=..., raw=None, content_type="application/json", path="/mcp"):
        sent = {"Accept": "application/json, text/event-stream"}
        token = self.token if token is ... else token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if self.version:
            sent["MCP-Protocol-Version"] = self.version
        sent.update(headers or {})
        data = raw if raw is not None else json.dumps(body)
        return self.client.post(path, data=data, content_type=content_type, headers=sent)

    def request(self, method, params=None, id=1, headers=None, **kwargs):
        """A request with what the version requires (2026-07-28: _meta envelope and Mcp-* headers)."""
        headers = dict(headers or {})
        if self.version == MODERN:
            params = modern_params(params)
            headers.setdefault("Mcp-Method", method)
            name = params.get("name", params.get("uri"))
            if name is not None and method in ("tools/call", "prompts/get", "resources/read"):
                headers.setdefault("Mcp-Name", name)
        return self.post(message(method, params, id), headers=headers, **kwargs)

    def result(self, method, params=None, **kwargs):
        response = self.request(method, params, **kwargs)
        assert response.status_code == 200, response.content
        body = response.json()
        assert "result" in body, body
        return body["result"]

    def call_tool(self, name, arguments=None, **kwargs):
        return self.result("tools/call", {"name": name, "arguments": arguments or {}}, **kwargs)


@pytest.fixture
def mcp(client, token):
    return Mcp(client, token)


@pytest.fixture
def anonymous(client):
    return Mcp(client, None)
