"""The OAuth 2.1 pieces of the client flow: what discovery and the token endpoint answer, PKCE (RFC 7636),
the Bearer challenge (RFC 6750), redirects and RFC 8414's well-known address."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mcp_client.errors import FlowError

DEFAULT_TIMEOUT = 15.0


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


def authorization_server_metadata_url(issuer: str) -> str:
    """RFC 8414 section 3.1: the well-known segment goes between the host and the issuer's path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"
