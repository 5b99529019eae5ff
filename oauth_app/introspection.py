"""Token introspection (RFC 7662).

Who may introspect: a confidential client, authenticated with its registered method, and only the
tokens issued to itself; anything else answers `{"active": false}` (section 2.2), so the endpoint
cannot be used to probe other clients' tokens (section 4). The MCP endpoint itself never needs it:
it verifies JWTs locally (oauth_app.tokens).
"""

import calendar

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauth_app import keys, tokens
from oauth_app.dot_seam import refresh_token_expire_timedelta

INACTIVE = {"active": False}


def introspect(raw_token: str, client, token_type_hint: str = "") -> dict:
    """The RFC 7662 answer for `raw_token` as seen by `client` (already authenticated)."""
    lookups = [access_token_claims, refresh_token_claims]
    if token_type_hint == "refresh_token":
        lookups.reverse()
    for lookup in lookups:
        answer = lookup(raw_token, client)
        if answer is not None:
            return answer
    return INACTIVE


def access_token_claims(raw_token: str, client) -> dict | None:
    if keys.is_asymmetric():
        keys.synced_key_set()  # a key retired on another host a moment ago must not verify here
    try:
        claims = tokens.decode_access_token(raw_token)
    except tokens.InvalidToken:
        return None
    active = (
        client.is_enabled
        and claims["client_id"] == client.client_id
        and get_access_token_model()
        .objects.filter(token_checksum=tokens.token_checksum(raw_token), application=client, expires__gt=timezone.now())
        .exists()
    )
    if not active:
        return INACTIVE
    answer = {"active": True, "token_type": "Bearer"}
    for name in ("scope", "client_id", "username", "sub", "aud", "iss", "exp", "iat", "jti"):
        if name in claims:
            answer[name] = claims[name]
    return answer


def refresh_token_claims(raw_token: str, client) -> dict | None:
    refresh = (
        get_refresh_token_model()
        .objects.select_related("access_token", "user")
        .filter(token_checksum=tokens.token_checksum(raw_token), application=client, revoked__isnull=True)
        .first()
    )
    if refresh is None or refresh.access_token is None or not client.is_enabled:
        return None
    # DOT's rule: a refresh token lives REFRESH_TOKEN_LIFETIME past its latest access token.
    lifetime = refresh_token_expire_timedelta()
    expires = refresh.access_token.expires + lifetime if lifetime else None
    if expires is not None and expires <= timezone.now():
        return INACTIVE
    answer = {
        "active": True,
        "scope": refresh.access_token.scope,
        "client_id": client.client_id,
        "username": refresh.user.get_username(),
        "sub": str(refresh.user.pk),
        "aud": refresh.resource[0] if len(refresh.resource) == 1 else refresh.resource,
        "iat": int(calendar.timegm(refresh.created.utctimetuple())),
    }
    if expires is not None:
        answer["exp"] = int(calendar.timegm(expires.utctimetuple()))
    return answer
