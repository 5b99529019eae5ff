"""/oauth/revoke (RFC 7009): a revoked token is refused on the very next request."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauth_app import tokens
from oauth_app.models import AuditEvent
from tests.oauth.flow import issue_tokens, post_form, refresh
from tests.support.personas import SERVICENOW_SECRET
from tests.oauth.test_token import is_accepted

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
ORIGIN = "https://inspector.example.com"


def revoke(http, oauth_client, token, secret=None, **extra):
    return post_form(http, "/oauth/revoke", oauth_client, secret, token=token, **extra)


def test_revoking_an_access_token_refuses_it_at_once_and_its_refresh_token_too(browser, inspector):
    body = issue_tokens(browser, inspector)
    assert is_accepted(body["access_token"])  # now in the Redis allow-list
    response = revoke(browser, inspector, body["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert not is_accepted(body["access_token"])
    assert refresh(browser, inspector, body["refresh_token"]).status_code == 400
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REVOKED, client_id=inspector.client_id).exists()


def test_revoking_a_refresh_token_revokes_its_family_and_access_tokens(browser, inspector):
    first = issue_tokens(browser, inspector)
    second = refresh(browser, inspector, first["refresh_token"]).json()
    assert is_accepted(second["access_token"])
    assert revoke(browser, inspector, second["refresh_token"], token_type_hint="refresh_token").status_code == 200
    assert not is_accepted(second["access_token"])
    assert refresh(browser, inspector, second["refresh_token"]).status_code == 400
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_a_wrong_type_hint_still_finds_the_token(browser, inspector):
    body = issue_tokens(browser, inspector)
    assert revoke(browser, inspector, body["refresh_token"], token_type_hint="access_token").status_code == 200
    assert not is_accepted(body["access_token"])


def test_a_confidential_client_revokes_with_its_registered_authentication(browser, servicenow_client):
    body = issue_tokens(browser, servicenow_client, SERVICENOW_SECRET)
    assert revoke(browser, servicenow_client, body["access_token"], secret=SERVICENOW_SECRET).status_code == 200
    assert not is_accepted(body["access_token"])


def test_a_confidential_client_with_a_wrong_secret_gets_401(browser, servicenow_client):
    body = issue_tokens(browser, servicenow_client, SERVICENOW_SECRET)
    response = revoke(browser, servicenow_client, body["access_token"], secret="wrong")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert is_accepted(body["access_token"])


def test_a_client_cannot_revoke_another_clients_token(browser, inspector, servicenow_client):
    body = issue_tokens(browser, inspector)
    response = revoke(browser, servicenow_client, body["access_token"], secret=SERVICENOW_SECRET)
    assert response.status_code == 200  # RFC 7009 2.2: no hint whether the token exists
    assert is_accepted(body["access_token"])


def test_an_unknown_token_answers_200(browser, inspector):
    assert revoke(browser, inspector, "not-a-token").status_code == 200
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REVOKED).exists()


def test_a_missing_token_is_invalid_request(browser, inspector):
    response = post_form(browser, "/oauth/revoke", inspector)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_revocation_reaches_every_worker_through_the_shared_cache(browser, inspector):
    """Another worker's view: only Redis and PostgreSQL are shared, and the allow-list entry is gone."""
    if not settings.CACHE_IS_SHARED:
        pytest.skip("needs Redis (REDIS_URL)")
    body = issue_tokens(browser, inspector)
    key = tokens.active_token_cache_key(tokens.token_checksum(body["access_token"]))
    assert is_accepted(body["access_token"]) and cache.get(key) == tokens.ACTIVE
    revoke(browser, inspector, body["access_token"])
    assert cache.get(key) == tokens.REVOKED
    assert not is_accepted(body["access_token"])
    assert cache.get(key) == tokens.REVOKED  # a refusal is not cached as active


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_the_revocation_endpoint_answers_cors(browser, inspector):
    body = issue_tokens(browser, inspector)
    response = browser.post("/oauth/revoke", {"client_id": inspector.client_id, "token": body["access_token"]},
                            HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == ORIGIN
    assert not is_accepted(body["access_token"])
