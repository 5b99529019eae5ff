"""A small OAuth 2.1 + MCP client, the way a real MCP client talks to this server.

Used by `manage.py mcp_selftest` (against a live deployment) and by the end-to-end tests. It needs
nothing from Django: only `requests` and the standard library.

    client = McpOAuthClient("https://mcp.example.com/mcp")
    client.discover()                                  # 401 on /mcp -> RFC 9728 -> RFC 8414
    client.register(initial_access_token="…", redirect_uri="http://127.0.0.1:33418/callback")
    request = client.authorization_request()           # PKCE S256, state
    redirect = log_in_and_consent(request.url, request.redirect_uri, "alice", "…")   # or a person
    client.finish_authorization(request, redirect)     # state + iss checked, code exchanged
    client.initialize(); client.call_tool("echo", {"message": "hi"})
    client.refresh(); client.revoke(client.tokens.access_token)
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit

import requests

PROTOCOL_VERSION = "2025-11-25"
DEFAULT_TIMEOUT = 15.0
MAX_BROWSER_HOPS = 10
CURRENT_TOKEN = object()  # post_mcp's default: the client's current access token


class FlowError(Exception):
    """A step of the flow did not go as the specifications say; the message says what was seen."""


# --- Data the flow carries from step to step -------------------------------------------------


@dataclass
class ServerMetadata:
    """What discovery found: the 401 challenge, RFC 9728 and RFC 8414 documents."""

    mcp_url: str
    resource_metadata_url: str
    challenge_scope: str | None
    resource: dict
    authorization_server: dict

    @property
    def issuer(self) -> str:
        return self.authorization_server["issuer"]

    def endpoint(self, name: str) -> str:
        url = self.authorization_server.get(f"{name}_endpoint")
        if not url:
            raise FlowError(f"authorization server metadata has no {name}_endpoint")
        return url

    @property
    def scope(self) -> str:
        """The scope to ask for: the challenge's, else everything the resource supports."""
        return self.challenge_scope or " ".join(self.resource.get("scopes_supported") or [])


@dataclass
class ClientCredentials:
    client_id: str
    client_secret: str | None
    token_endpoint_auth_method: str
    redirect_uri: str
    registration: dict = field(default_factory=dict)  # the RFC 7591 response, when registered here


@dataclass
class AuthorizationRequest:
    url: str
    redirect_uri: str
    state: str
    code_verifier: str
    resource: str


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_in: int | None
    scope: str | None
    raw: dict


# --- PKCE, challenges, redirects -------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """A code verifier (RFC 7636: 43-128 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    return verifier, s256_challenge(verifier)


def s256_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding (RFC 7636 section 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def parse_bearer_challenge(header: str) -> dict[str, str]:
    """The auth-params of a `WWW-Authenticate: Bearer k="v", …` header (RFC 6750 section 3)."""
    if not header.lower().startswith("bearer"):
        return {}
    return {key.lower(): value for key, value in re.findall(r'(\w+)="([^"]*)"', header)}


def redirect_target(location: str, redirect_uri: str) -> bool:
    """Whether a Location goes to the client's redirect URI (the query aside)."""
    return location.split("?", 1)[0].split("#", 1)[0] == redirect_uri.split("?", 1)[0]


# --- A headless browser for the login and consent pages --------------------------------------


class _FormParser(HTMLParser):
    """Collects the forms of a page: action, method, and every named control with its value."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "method": attrs.get("method", "get").lower(),
                               "fields": [], "submits": []})
        elif tag in ("input", "button") and self.forms:
            kind = attrs.get("type", "submit" if tag == "button" else "text").lower()
            control = (attrs.get("name", ""), attrs.get("value", ""))
            if kind == "submit":
                self.forms[-1]["submits"].append(control)
            elif kind not in ("checkbox", "radio") or "checked" in attrs:
                self.forms[-1]["fields"].append((kind, *control))


def _page_form(html: str) -> dict | None:
    parser = _FormParser()
    parser.feed(html)
    posts = [form for form in parser.forms if form["method"] == "post"]
    return posts[0] if posts else None


def log_in_and_consent(authorization_url: str, redirect_uri: str, username: str, password: str, *,
                       approve: bool = True, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Plays the person at the browser: opens the authorization URL, signs in on the login form,
    answers the consent form, and returns the URL the server redirects to (never opening it)."""
    browser = requests.Session()
    response = browser.get(authorization_url, allow_redirects=False, timeout=timeout)
    signed_in = False
    for _ in range(MAX_BROWSER_HOPS):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if redirect_target(location, redirect_uri):
                return location
            response = browser.get(location, allow_redirects=False, timeout=timeout)
            continue
        form = _page_form(response.text) if response.status_code == 200 else None
        if form is None:
            raise FlowError(f"{response.url} answered {response.status_code} without a form to submit: "
                            f"{response.text[:300]!r}")
        data = {name: value for kind, name, value in form["fields"] if name}
        if any(kind == "password" for kind, _, _ in form["fields"]):
            if signed_in:
                raise FlowError("the login form came back: wrong username or password?")
            data.update(username=username, password=password)
            signed_in = True
        else:
            data.update(_consent_choice(form, approve))
        page = response.url
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(page))
        # Django's CSRF check on https compares Origin/Referer with the host, as a browser sends them.
        response = browser.post(urljoin(page, form["action"] or page), data=data, allow_redirects=False,
                                headers={"Referer": page, "Origin": origin}, timeout=timeout)
    raise FlowError(f"no redirect to {redirect_uri} after {MAX_BROWSER_HOPS} pages")


def _consent_choice(form: dict, approve: bool) -> dict:
    """The submit control that allows (or cancels): DOT's consent form posts `allow` to approve."""
    allow = [(name, value) for name, value in form["submits"] if name == "allow"
             or value.lower() in ("allow", "authorize", "approve")]
    if approve:
        if not allow:
            raise FlowError(f"the consent form has no allow button: {form['submits']}")
        name, value = allow[0]
        return {name or "allow": value}
    return {}  # without `allow` the consent is refused


# --- The client -------------------------------------------------------------------------------


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


def authorization_server_metadata_url(issuer: str) -> str:
    """RFC 8414 section 3.1: the well-known segment goes between the host and the issuer's path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"


def read_jsonrpc_response(response: requests.Response, request_id) -> dict:
    """The JSON-RPC response to `request_id`, from a JSON body or from an event stream."""
    if response.headers.get("Content-Type", "").startswith("text/event-stream"):
        for event in response.text.split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.splitlines() if line.startswith("data:"))
            if data:
                message = json.loads(data)
                if message.get("id") == request_id and ("result" in message or "error" in message):
                    return message
        raise FlowError(f"the event stream carries no response to request {request_id}")
    return response.json()


def tool_text(result: dict) -> str:
    """The text content of a tools/call result."""
    return "".join(item.get("text", "") for item in result.get("content", []) if item.get("type") == "text")
