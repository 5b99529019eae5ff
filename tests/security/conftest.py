"""Personas and helpers of the attacker's suite: a user, clients, tokens, and a snapshot of every table an
attack could change, so each test can assert that the database did not move."""

import secrets
import time
from contextlib import contextmanager
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from oauth_app.hashers import token_digest
from oauth_app.models import Client, Consent, InitialAccessToken

ALICE_PASSWORD = "correct-horse-battery-staple-42"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
OTHER_REDIRECT_URI = "https://other.example.com/callback"
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


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=ALICE_PASSWORD)


def make_client(name="Acme agent", redirect_uri=REDIRECT_URI, public=True, **fields) -> tuple[Client, str]:
    """A registered client and its plain secret (empty for a public client)."""
    secret = "" if public else secrets.token_urlsafe(32)
    client = Client.objects.create(
        name=name,
        client_type=Client.CLIENT_PUBLIC if public else Client.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        client_secret=secret,
        token_endpoint_auth_method="none" if public else "client_secret_post",
        scope="mcp:tools",
        **fields,
    )
    return client, secret


@pytest.fixture
def public_client(db):
    return make_client()[0]


@pytest.fixture
def other_client(db):
    return make_client(name="Other agent", redirect_uri=OTHER_REDIRECT_URI)[0]


@pytest.fixture
def confidential_client(db):
    return make_client(name="Confidential agent", public=False)


def jwt_claims(client: Client, user, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": settings.OAUTH_ISSUER, "sub": str(user.pk), "username": user.get_username(),
        "aud": settings.MCP_RESOURCE, "client_id": client.client_id, "scope": "mcp:tools",
        "jti": secrets.token_hex(16), "iat": now, "exp": now + 3600,
    }
    claims.update(overrides)
    return claims


def issue_access_token(client: Client, user, *, expires_in=3600, **claims) -> str:
    """What the token endpoint stores for a JWT it issues: the row (checksum only) and the signed JWT."""
    raw = jwt.encode(jwt_claims(client, user, exp=int(time.time()) + expires_in, **claims), settings.JWT_SECRET,
                     algorithm="HS256")
    AccessToken.objects.create(user=user, application=client, token=raw, scope="mcp:tools",
                               expires=timezone.now() + timedelta(seconds=expires_in))
    return raw


def issue_initial_access_token(name="servicenow", *, expires_at=None, max_uses=None, uses=0, revoked=False) -> str:
    raw = secrets.token_urlsafe(32)
    InitialAccessToken.objects.create(
        name=name, token_prefix=raw[:8], token_hash=token_digest(raw), expires_at=expires_at, max_uses=max_uses,
        uses=uses, revoked_at=timezone.now() if revoked else None,
    )
    return raw


def pkce_pair() -> tuple[str, str]:
    import base64
    import hashlib

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def make_grant(client: Client, user, *, redirect_uri=REDIRECT_URI, expires_in=600, method="S256",
               challenge=None) -> tuple[str, str]:
    """An authorization code as the authorize endpoint stores it (its digest); returns (code, PKCE verifier)."""
    from oauth_app.validators import digest

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
    from urllib.parse import urlencode

    return http.post("/oauth/token", urlencode(data), content_type="application/x-www-form-urlencoded", **headers)


def exchange(http, client: Client, code: str, verifier: str, **extra):
    return token_request(http, {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                "redirect_uri": REDIRECT_URI, "client_id": client.client_id, **extra})
