"""One MCP client over OAuth 2.1: discovery, registration, authorization with PKCE, tokens, MCP calls."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import requests

from mcp_client.errors import FlowError
from mcp_client.mcp import PROTOCOL_VERSION, read_jsonrpc_response
from mcp_client.oauth import (
    DEFAULT_TIMEOUT, AuthorizationRequest, ClientCredentials, ServerMetadata, Tokens,
    authorization_server_metadata_url, parse_bearer_challenge, pkce_pair, redirect_target,
)

CURRENT_TOKEN = object()  # post_mcp's default: the client's current access token


class McpOAuthClient:
    """One MCP client: discovery, registration, authorization with PKCE, tokens, MCP calls."""

    def __init__(self, mcp_url: str, *, timeout: float = DEFAULT_TIMEOUT, accept: str | None = None):
        self.mcp_url = mcp_url
        self.timeout = timeout
        self.http = requests.Session()
        self.accept = accept or "application/json, text/event-stream"
        self.metadata: ServerMetadata | None = None
        self.client: ClientCredentials | None = None
        self.tokens: Tokens | None = None
        self.protocol_version: str | None = None
        self._next_id = 0

    # Discovery (MCP authorization: 401 -> RFC 9728 -> RFC 8414)
    def discover(self) -> ServerMetadata:
        response = self.post_mcp(self.message("tools/list"), token=None)
        if response.status_code != 401:
            raise FlowError(f"POST {self.mcp_url} without a token answered {response.status_code}, not 401")
        challenge = parse_bearer_challenge(response.headers.get("WWW-Authenticate", ""))
        if "resource_metadata" not in challenge:
            raise FlowError(f"the 401 has no resource_metadata: {response.headers.get('WWW-Authenticate')!r}")
        resource = self._get_json(challenge["resource_metadata"])
        if resource.get("resource", "").rstrip("/") != self.mcp_url.rstrip("/"):
            raise FlowError(f"protected resource is {resource.get('resource')!r}, not {self.mcp_url}")
        servers = resource.get("authorization_servers") or []
        if not servers:
            raise FlowError("protected resource metadata names no authorization server")
        issuer = servers[0]
        server = self._get_json(authorization_server_metadata_url(issuer))
        if server.get("issuer") != issuer:
            raise FlowError(f"metadata issuer {server.get('issuer')!r} differs from {issuer!r} (RFC 8414 3.3)")
        if "S256" not in (server.get("code_challenge_methods_supported") or []):
            raise FlowError("the authorization server does not advertise PKCE S256")
        self.metadata = ServerMetadata(self.mcp_url, challenge["resource_metadata"], challenge.get("scope"),
                                       resource, server)
        return self.metadata

    # Registration (RFC 7591), or a client registered by the operator
    def register(self, *, redirect_uri: str, initial_access_token: str | None = None,
                 client_name: str = "mcp-selftest", token_endpoint_auth_method: str = "none") -> ClientCredentials:
        body = {
            "client_name": client_name,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": token_endpoint_auth_method,
            "scope": self._metadata().scope,
        }
        headers = {"Authorization": f"Bearer {initial_access_token}"} if initial_access_token else {}
        response = self.http.post(self._metadata().endpoint("registration"), json=body, headers=headers,
                                  timeout=self.timeout)
        if response.status_code != 201:
            raise FlowError(f"registration answered {response.status_code}: {response.text[:300]}")
        registered = response.json()
        self.client = ClientCredentials(
            registered["client_id"], registered.get("client_secret"),
            registered.get("token_endpoint_auth_method", token_endpoint_auth_method), redirect_uri, registered,
        )
        if self.client.token_endpoint_auth_method != token_endpoint_auth_method:
            raise FlowError(f"asked for {token_endpoint_auth_method}, "
                            f"registered as {self.client.token_endpoint_auth_method}")
        return self.client

    def use_client(self, credentials: ClientCredentials) -> None:
        self.client = credentials

    # Authorization code with PKCE S256 (RFC 7636), resource (RFC 8707), iss (RFC 9207)
    def authorization_request(self, scope: str | None = None) -> AuthorizationRequest:
        client = self._client()
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        resource = self._metadata().resource["resource"]
        query = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": scope or self._metadata().scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": resource,
        }
        url = f"{self._metadata().endpoint('authorization')}?{urlencode(query)}"
        return AuthorizationRequest(url, client.redirect_uri, state, verifier, resource)

    def authorization_code(self, request: AuthorizationRequest, redirect_url: str) -> str:
        """The code from the redirect, after checking it answers this request from this issuer."""
        if not redirect_target(redirect_url, request.redirect_uri):
            raise FlowError(f"{redirect_url!r} does not go to {request.redirect_uri}")
        params = {key: values[0] for key, values in parse_qs(urlsplit(redirect_url).query).items()}
        if params.get("state") != request.state:
            raise FlowError("the redirect's state is not the one sent")
        if self._metadata().authorization_server.get("authorization_response_iss_parameter_supported") \
                and params.get("iss") != self._metadata().issuer:
            raise FlowError(f"the redirect's iss {params.get('iss')!r} is not {self._metadata().issuer!r}")
        if "error" in params:
            raise FlowError(f"authorization refused: {params['error']} {params.get('error_description', '')}")
        if not params.get("code"):
            raise FlowError("the redirect carries no code")
        return params["code"]

    def finish_authorization(self, request: AuthorizationRequest, redirect_url: str) -> Tokens:
        return self.exchange_code(request, self.authorization_code(request, redirect_url))

    def exchange_code(self, request: AuthorizationRequest, code: str) -> Tokens:
        return self.token_request({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
            "resource": request.resource,
        })

    # Tokens (RFC 6749), revocation (RFC 7009)
    def refresh(self, refresh_token: str | None = None) -> Tokens:
        return self.token_request({
            "grant_type": "refresh_token",
            "refresh_token": refresh_token or self._tokens().refresh_token,
            "resource": self._metadata().resource["resource"],
        })

    def token_request(self, form: dict) -> Tokens:
        response = self.post_token(form)
        if response.status_code != 200:
            raise FlowError(f"token endpoint answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        if body.get("token_type", "").lower() != "bearer" or not body.get("access_token"):
            raise FlowError(f"not a bearer token response: {sorted(body)}")
        self.tokens = Tokens(body["access_token"], body.get("refresh_token"), body.get("expires_in"),
                             body.get("scope"), body)
        return self.tokens

    def post_token(self, form: dict) -> requests.Response:
        """A raw token request with this client's authentication (for tests of the error answers)."""
        data, headers = self._authenticate(form)
        return self.http.post(self._metadata().endpoint("token"), data=data, headers=headers, timeout=self.timeout)

    def revoke(self, token: str, token_type_hint: str | None = None) -> None:
        form = {"token": token, **({"token_type_hint": token_type_hint} if token_type_hint else {})}
        data, headers = self._authenticate(form)
        response = self.http.post(self._metadata().endpoint("revocation"), data=data, headers=headers,
                                  timeout=self.timeout)
        if response.status_code != 200:
            raise FlowError(f"revocation answered {response.status_code}: {response.text[:300]}")

    def _authenticate(self, form: dict) -> tuple[dict, dict]:
        """Client authentication as registered (RFC 6749 section 2.3.1)."""
        client = self._client()
        data = {key: value for key, value in form.items() if value is not None}
        if client.token_endpoint_auth_method == "client_secret_basic":
            pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret or '', safe='')}"
            return data, {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}
        data["client_id"] = client.client_id
        if client.token_endpoint_auth_method == "client_secret_post":
            data["client_secret"] = client.client_secret
        return data, {}

    # MCP (Streamable HTTP, one JSON-RPC message per POST)
    def initialize(self) -> dict:
        result = self.rpc("initialize", {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcpsite-client-flow", "version": "1.0"},
        })
        self.protocol_version = result.get("protocolVersion")
        self.post_mcp({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    def list_tools(self) -> list[dict]:
        return self.rpc("tools/list", {})["tools"]

    def call_tool(self, name: str, arguments: dict) -> dict:
        return self.rpc("tools/call", {"name": name, "arguments": arguments})

    def rpc(self, method: str, params: dict | None = None) -> dict:
        message = self.message(method, params)
        response = self.post_mcp(message)
        if response.status_code != 200:
            raise FlowError(f"{method} answered HTTP {response.status_code} "
                            f"{response.headers.get('WWW-Authenticate', '')} {response.text[:300]}")
        reply = read_jsonrpc_response(response, message["id"])
        if "error" in reply:
            raise FlowError(f"{method} answered JSON-RPC error {reply['error']}")
        return reply["result"]

    def post_mcp(self, message: dict, token: str | None | object = CURRENT_TOKEN) -> requests.Response:
        """POSTs one JSON-RPC message with the current access token (or `token`; None sends none)."""
        if token is CURRENT_TOKEN:
            token = self.tokens.access_token if self.tokens else None
        headers = {"Accept": self.accept, "Content-Type": "application/json"}
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.post(self.mcp_url, data=json.dumps(message), headers=headers, timeout=self.timeout,
                              allow_redirects=False)

    def message(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        return {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params or {}}

    def _get_json(self, url: str) -> dict:
        response = self.http.get(url, timeout=self.timeout, allow_redirects=False)
        if response.status_code != 200:
            raise FlowError(f"GET {url} answered {response.status_code}")
        return response.json()

    def _metadata(self) -> ServerMetadata:
        if self.metadata is None:
            raise FlowError("discover() first")
        return self.metadata

    def _client(self) -> ClientCredentials:
        if self.client is None:
            raise FlowError("register() or use_client() first")
        return self.client

    def _tokens(self) -> Tokens:
        if self.tokens is None:
            raise FlowError("no tokens yet")
        return self.tokens
