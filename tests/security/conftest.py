"""Helpers of the attacker's suite: grants and initial access tokens as the endpoints store them, and a snapshot
of every table an attack could change, so each test can assert that the database did not move. The personas
(alice, public_client, other_client, confidential_client) are the fixtures of tests/conftest.py."""

import secrets
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from oauth_app.hashers import token_digest
from oauth_app.models import Client, Consent, InitialAccessToken
from oauth_app.validators import digest
from tests.oauth.flow import pkce_pair
from tests.support.personas import AGENT_REDIRECT

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()


def database_state() -> dict:
    """Row counts and the mutable columns an attack might flip (uses, revocations, enabled flags).
    Audit events are left out: recording a refused attempt is the point of them."""
    return {
        "users": get_user_model().objects.count(),
        "clients": Client.objects.count(),
        "enabled_clients": Client.objects.filter(is_enabled=True).count(),
        "client_redirects": sorted(Client.objects.values_list("redirect_uris", flat=True)),
        "grants": Grant.objects.count(),
        "access_tokens": AccessToken.objects.count(),
        "refresh_tokens": RefreshToken.objects.count(),
        "revoked_refresh_tokens": RefreshToken.objects.filter(revoked__isnull=False).count(),
        "consents": Consent.objects.count(),
        "initial_tokens": InitialAccessToken.objects.count(),
        "initial_token_uses": sum(InitialAccessToken.objects.values_list("uses", flat=True)),
    }


@contextmanager
def database_unchanged():
    before = database_state()
    yield
    assert database_state() == before, "the attack changed the database"


def issue_initial_access_token(name="servicenow", *, expires_at=None, max_uses=None, uses=0, revoked=False) -> str:
    raw = secrets.token_urlsafe(32)
    InitialAccessToken.objects.create(
        name=name, token_prefix=raw[:8], token_hash=token_digest(raw), expires_at=expires_at, max_uses=max_uses,
        uses=uses, revoked_at=timezone.now() if revoked else None,
    )
    return raw


def make_grant(client: Client, user, *, redirect_uri=AGENT_REDIRECT, expires_in=600, method="S256",
               challenge=None) -> tuple[str, str]:
    """An authorization code as the authorize endpoint stores it (its digest); returns (code, PKCE verifier)."""
    verifier, computed = pkce_pair()
    code = secrets.token_urlsafe(30)
    Grant.objects.create(
        user=user, application=client, code=digest(code), redirect_uri=redirect_uri, scope="mcp:tools",
        expires=timezone.now() + timedelta(seconds=expires_in),
        code_challenge=computed if challenge is None else challenge, code_challenge_method=method,
    )
    return code, verifier


def token_request(http, data: dict, **headers):
    """POST /oauth/token as a client sends it (form-encoded)."""
    return http.post("/oauth/token", urlencode(data), content_type="application/x-www-form-urlencoded", **headers)


def exchange(http, client: Client, code: str, verifier: str, **extra):
    return token_request(http, {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                "redirect_uri": AGENT_REDIRECT, "client_id": client.client_id, **extra})
