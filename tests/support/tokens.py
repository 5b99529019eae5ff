"""Access tokens as the token endpoint issues them: the JWT from the product's own generator
(oauth_app.tokens.generate_access_token, django-oauth-toolkit's ACCESS_TOKEN_GENERATOR) and the AccessToken
row django-oauth-toolkit records for it (a checksum only), optionally with its refresh token."""

from datetime import timedelta
from types import SimpleNamespace

import jwt
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model, set_token_value

from oauth_app import tokens
from oauth_app.registration import new_secret

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def access_token_claims(client, user, *, scope: str = "mcp:tools", **overrides) -> dict:
    """The claims the product's generator writes for (client, user), with `overrides` on top: the material
    of the attacker suite's forged tokens."""
    raw = tokens.generate_access_token(SimpleNamespace(user=user, client=client, scopes=scope.split()))
    return {**jwt.decode(raw, options={"verify_signature": False}), **overrides}


def issue_access_token(client, user, *, scope: str = "mcp:tools", expires_in: int | None = None,
                       refresh_token: bool = False, **claims) -> str:
    """A recorded access token for (client, user). `expires_in` (seconds, negative for one already expired)
    and `claims` change what the generator wrote, re-signed with the server's key: a token the server
    recorded but minted for another audience or issuer, say."""
    lifetime = settings.ACCESS_TOKEN_LIFETIME if expires_in is None else expires_in
    if expires_in is None and not claims:
        raw = tokens.generate_access_token(SimpleNamespace(user=user, client=client, scopes=scope.split()))
    else:
        issued = access_token_claims(client, user, scope=scope)
        raw = jwt.encode({**issued, "exp": issued["iat"] + lifetime, **claims}, settings.JWT_SECRET,
                         algorithm=tokens.JWT_ALGORITHM)
    access = AccessToken(user=user, application=client, scope=scope,
                         expires=timezone.now() + timedelta(seconds=lifetime))
    set_token_value(access, raw)
    access.save()
    if refresh_token:
        refresh = RefreshToken(user=user, application=client, access_token=access)
        set_token_value(refresh, new_secret())
        refresh.save()
    return raw
