"""Bearer-token authentication for /mcp (DRF) and the challenges that tell a client how to get a token.

The token is a JWT verified locally (signature, exp, iss, aud = this server's /mcp resource) and checked
against the allow-list in the cache (`oauth_app.tokens` decides). The allow-list GET, the rate-limit
INCR and the access policy's version (mcp_app.policy) travel in one Redis pipeline: a valid request costs one round trip and no SQL. What was counted is
handed to the throttle as `request.auth` (mcp_app.throttling). A refused token is counted against its
address, not against the caller it names, and answered 401 (429 once the address is over its limit).
"""

import json
import logging
import time
from typing import NoReturn

from django.conf import settings
from django.http import HttpResponse
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from common.http import bearer_token
from mcp_app import policy, throttling
from oauth_app import tokens

logger = logging.getLogger(__name__)


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <jwt>` → `request.user` is a `TokenIdentity`; no header → anonymous (None)."""

    def authenticate(self, request):
        raw_token = bearer_token(request)
        if raw_token is None:
            return None  # no bearer credentials at all: the view decides whether the method needs them
        now = int(time.time())
        try:
            claims = tokens.decode_access_token(raw_token)
        except tokens.InvalidToken as exc:
            if not tokens.key_set_gets():
                self.refuse(request, exc, now)
            claims = None  # perhaps signed by a key this worker has not loaded yet: the key set's version says
        counter = None  # only POSTs are limited (McpRateThrottle): other methods just read the allow-list
        if request.method == "POST" and claims is not None:
            counter = throttling.caller_key(str(claims["client_id"]), str(claims["sub"]), now)
        # One round trip: the counter, the token's allow-list entry (and key set version), the access policy's version.
        keys = [*tokens.round_trip_gets(raw_token, claims), policy.VERSION_KEY]
        spent, values, reachable = throttling.count(counter, keys)
        policy.remember_prefetched_version(values[-1])
        identity = tokens.identity_given(raw_token, claims, values[:-1], cache_reachable=reachable)
        if identity is None:
            if spent is not None:
                throttling.uncount(counter)
            self.refuse(request, tokens.InvalidToken("token refused: revoked, expired, its key retired or its "
                                                     "client disabled"), now)
        return identity, throttling.Usage(spent)

    def refuse(self, request, reason: Exception, now: int) -> NoReturn:
        logger.info("bearer token refused: %s", reason)  # the reason, never the token
        if request.method == "POST" and throttling.over_limit(throttling.count_address(request, now)):
            raise Throttled(wait=throttling.seconds_left(now))
        raise AuthenticationFailed("invalid_token")

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
