"""Personas and helpers for the /mcp tests: real users, clients and access tokens in the database,
tokens minted by the same generator django-oauth-toolkit calls (oauth_app.tokens.generate_access_token)."""

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from oauth_app.models import Client
from oauth_app.tokens import generate_access_token
from tests.mcp import tools_for_tests  # noqa: F401  (registers the test-only tools)

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ALL_VERSIONS = ["2025-06-18", "2025-11-25", "2026-07-28"]


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice")  # no password: hashing one costs ~0.5 s


@pytest.fixture
def servicenow_client(alice):
    return Client.objects.create(
        name="servicenow",
        client_type=Client.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://servicenow.example/callback",
    )


def issue_token(user, client, scope="mcp:tools"):
    """An access token as django-oauth-toolkit issues one: the JWT, and its AccessToken row (checksum only)."""
    raw = generate_access_token(SimpleNamespace(user=user, client=client, scopes=scope.split()))
    row = get_access_token_model()(
        user=user, application=client, scope=scope, expires=timezone.now() + timedelta(hours=1)
    )
    set_token_value(row, raw)
    row.save()
    return raw


@pytest.fixture
def token(alice, servicenow_client):
    return issue_token(alice, servicenow_client)


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
