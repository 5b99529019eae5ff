"""Bearer-token authentication for /mcp (DRF) and the challenges that tell a client how to get a token.

The token is a JWT verified locally (signature, exp, iss, aud = this server's /mcp resource) and
checked against the revocation cache: one Redis GET, no SQL (`oauth_app.tokens.verify_access_token`).
"""

import json
import logging

from django.conf import settings
from django.http import HttpResponse
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from mcpsite.ratelimit import NO_IDENTITY, bearer_identity
from oauth_app.tokens import InvalidToken, verify_access_token

logger = logging.getLogger(__name__)


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <jwt>` → `request.user` is a `TokenIdentity`; no header → anonymous (None)."""

    def authenticate(self, request):
        scheme, _, raw_token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None  # no bearer credentials at all: the view decides whether the method needs them
        # The rate-limit middleware verified it in the same Redis round trip as its counter (mcpsite.ratelimit).
        identity = bearer_identity(request, raw_token.strip())
        if identity is NO_IDENTITY:
            try:
                identity = verify_access_token(raw_token.strip())
            except InvalidToken as exc:
                logger.info("bearer token refused: %s", exc)  # the reason, never the token
                identity = None
        if identity is None:
            raise AuthenticationFailed("invalid_token")
        return identity, None

    def authenticate_header(self, request):
        return challenge(error="invalid_token" if bearer_sent(request) else None)


def bearer_sent(request) -> bool:
    return request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer")


def resource_metadata_url() -> str:
    return f"{settings.OAUTH_ISSUER}/.well-known/oauth-protected-resource/mcp"


def challenge(*, error: str | None = None, scopes: list[str] | None = None) -> str:
    """The WWW-Authenticate value (RFC 6750 section 3, RFC 9728 section 5.1)."""
    scope = " ".join(scopes or settings.OAUTH_DEFAULT_SCOPES)
    value = f'Bearer resource_metadata="{resource_metadata_url()}", scope="{scope}"'
    return f'{value}, error="{error}"' if error else value


DESCRIPTIONS = {
    None: "This request needs a bearer access token.",
    "invalid_token": "The access token is invalid, expired or revoked.",
    "invalid_request": "Send the access token in the Authorization header, never in the URL.",
    "insufficient_scope": "The access token lacks the scope this request needs.",
}
STATUSES = {None: 401, "invalid_token": 401, "invalid_request": 400, "insufficient_scope": 403}


def challenge_response(error: str | None = None, scopes: list[str] | None = None) -> HttpResponse:
    """401/400/403 with the challenge and an RFC 6750 error body."""
    body = {"error": error or "invalid_token", "error_description": DESCRIPTIONS[error]}
    if scopes:
        body["scope"] = " ".join(scopes)
    response = HttpResponse(json.dumps(body), status=STATUSES[error], content_type="application/json")
    response["WWW-Authenticate"] = challenge(error=error, scopes=scopes)
    return response
