"""/oauth/token: authorization_code and refresh_token grants (RFC 6749, RFC 7636, RFC 8707, RFC 9700)."""

import base64
import hashlib
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from oauth_app import tokens
from oauth_app.models import AuditEvent
from tests.oauth.flow import age_past_the_refresh_grace, exchange, get_code, issue_tokens, post_form, refresh
from tests.support.personas import BASIC_SECRET, SERVICENOW_SECRET

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()


def is_accepted(access_token: str) -> bool:
    try:
        tokens.verify_access_token(access_token)
        return True
    except tokens.InvalidToken:
        return False


def test_the_code_exchange_returns_a_jwt_for_the_mcp_resource(browser, inspector, alice):
    response = exchange(browser, inspector, *get_code(browser, inspector)[:2])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == settings.ACCESS_TOKEN_LIFETIME
    assert body["scope"] == "mcp:tools" and body["refresh_token"]
    claims = jwt.decode(body["access_token"], settings.JWT_SECRET, algorithms=["HS256"], audience=settings.MCP_RESOURCE)
    assert claims["iss"] == settings.OAUTH_ISSUER
    assert claims["aud"] == settings.MCP_RESOURCE
    assert claims["sub"] == str(alice.pk) and claims["client_id"] == inspector.client_id
    assert claims["scope"] == "mcp:tools" and claims["jti"]
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_LIFETIME
    assert is_accepted(body["access_token"])


def test_the_database_holds_no_usable_token(browser, inspector):
    body = issue_tokens(browser, inspector)
    access, refresh_row = AccessToken.objects.get(), RefreshToken.objects.get()
    assert access.token == "" and refresh_row.token == ""
    assert access.token_checksum == hashlib.sha256(body["access_token"].encode()).hexdigest()
    assert refresh_row.token_checksum == hashlib.sha256(body["refresh_token"].encode()).hexdigest()
    assert not Grant.objects.exists()  # the code is consumed


def test_dot_records_carry_the_audience_of_the_jwt(browser, inspector):
    issue_tokens(browser, inspector)
    assert AccessToken.objects.get().resource == [settings.MCP_RESOURCE]
    assert RefreshToken.objects.get().resource == [settings.MCP_RESOURCE]


def test_issuing_a_token_updates_the_client_and_the_audit_log(browser, inspector):
    before = timezone.now()
    issue_tokens(browser, inspector)
    inspector.refresh_from_db()
    assert inspector.last_token_issued_at >= before
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.TOKEN_ISSUED)
    assert event.client_id == inspector.client_id and event.actor == "alice"


# --- Client authentication -------------------------------------------------------------------------

def test_client_secret_post_authenticates_the_servicenow_shape(browser, servicenow_client):
    body = issue_tokens(browser, servicenow_client, SERVICENOW_SECRET)
    assert is_accepted(body["access_token"])


def test_client_secret_basic_authenticates_a_basic_client(browser, basic_client):
    assert is_accepted(issue_tokens(browser, basic_client, BASIC_SECRET)["access_token"])


def assert_invalid_client(response):
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert AccessToken.objects.count() == 0


def test_a_wrong_secret_is_401_invalid_client_and_audited(browser, servicenow_client):
    code, verifier, _ = get_code(browser, servicenow_client)
    assert_invalid_client(exchange(browser, servicenow_client, code, verifier, secret="wrong"))
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CLIENT_AUTH_FAILED,
                                     client_id=servicenow_client.client_id).exists()


def test_a_client_registered_for_post_cannot_authenticate_with_basic(browser, servicenow_client):
    code, verifier, params = get_code(browser, servicenow_client)
    basic = base64.b64encode(f"{servicenow_client.client_id}:{SERVICENOW_SECRET}".encode()).decode()
    fields = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
              "redirect_uri": params["redirect_uri"]}
    response = browser.post("/oauth/token", fields, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert_invalid_client(response)


def test_a_client_registered_for_basic_cannot_authenticate_with_post(browser, basic_client):
    code, verifier, params = get_code(browser, basic_client)
    response = browser.post("/oauth/token", {
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": params["redirect_uri"], "client_id": basic_client.client_id, "client_secret": BASIC_SECRET})
    assert_invalid_client(response)


def test_two_authentication_methods_at_once_are_refused(browser, basic_client):
    code, verifier, _ = get_code(browser, basic_client)
    assert_invalid_client(exchange(browser, basic_client, code, verifier, secret=BASIC_SECRET,
                                   client_secret=BASIC_SECRET))


def test_a_confidential_client_without_its_secret_is_refused(browser, servicenow_client):
    code, verifier, params = get_code(browser, servicenow_client)
    response = browser.post("/oauth/token", {"grant_type": "authorization_code", "code": code,
                                             "code_verifier": verifier, "redirect_uri": params["redirect_uri"],
                                             "client_id": servicenow_client.client_id})
    assert_invalid_client(response)


# --- Authorization codes ---------------------------------------------------------------------------

def test_a_wrong_code_verifier_is_refused(browser, inspector):
    code, _, _ = get_code(browser, inspector)
    response = exchange(browser, inspector, code, "x" * 50)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_missing_code_verifier_is_refused(browser, inspector):
    code, _, _ = get_code(browser, inspector)
    response = exchange(browser, inspector, code, None)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_code_issued_to_another_client_is_refused(browser, inspector, servicenow_client):
    code, verifier, _ = get_code(browser, inspector)
    response = exchange(browser, servicenow_client, code, verifier, redirect_uri=servicenow_client.redirect_uris,
                        secret=SERVICENOW_SECRET)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_an_expired_code_is_refused(browser, inspector):
    code, verifier, _ = get_code(browser, inspector)
    Grant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = exchange(browser, inspector, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_replayed_code_is_refused_and_what_it_issued_is_revoked(browser, inspector):
    code, verifier, _ = get_code(browser, inspector)
    first = exchange(browser, inspector, code, verifier).json()
    assert is_accepted(first["access_token"])
    replay = exchange(browser, inspector, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert not is_accepted(first["access_token"])
    assert refresh(browser, inspector, first["refresh_token"]).status_code == 400
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REPLAY_DETECTED, client_id=inspector.client_id).exists()


# --- Refresh tokens --------------------------------------------------------------------------------

def test_refresh_tokens_rotate_on_every_use(browser, inspector):
    first = issue_tokens(browser, inspector)
    second = refresh(browser, inspector, first["refresh_token"])
    assert second.status_code == 200, second.content
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert is_accepted(second["access_token"])
    assert not is_accepted(first["access_token"])  # the superseded access token ends at once
    third = refresh(browser, inspector, second["refresh_token"])
    assert third.status_code == 200
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REFRESHED).count() == 2


def test_refresh_token_replay_revokes_the_family(browser, inspector):
    first = issue_tokens(browser, inspector)
    second = refresh(browser, inspector, first["refresh_token"]).json()
    age_past_the_refresh_grace()
    replay = refresh(browser, inspector, first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert not is_accepted(second["access_token"])
    assert refresh(browser, inspector, second["refresh_token"]).status_code == 400
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REPLAY_DETECTED).exists()


def test_a_refresh_token_of_another_client_is_refused(browser, inspector, servicenow_client):
    first = issue_tokens(browser, inspector)
    response = refresh(browser, servicenow_client, first["refresh_token"], secret=SERVICENOW_SECRET)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_disabled_client_can_neither_refresh_nor_use_its_tokens(browser, inspector):
    body = issue_tokens(browser, inspector)
    assert is_accepted(body["access_token"])
    inspector.is_enabled = False
    inspector.save()
    assert not is_accepted(body["access_token"])  # on the very next call
    assert refresh(browser, inspector, body["refresh_token"]).status_code in (400, 401)
    inspector.is_enabled = True
    inspector.save()
    assert is_accepted(body["access_token"])  # enabling again restores the client


def test_a_deleted_client_tokens_stop_working_at_once(browser, inspector):
    body = issue_tokens(browser, inspector)
    assert is_accepted(body["access_token"])
    inspector.delete()
    assert not is_accepted(body["access_token"])


def test_the_active_token_cache_is_filled_at_issuance_and_emptied_on_rotation(browser, inspector):
    if not settings.CACHE_IS_SHARED:
        pytest.skip("needs Redis (REDIS_URL)")
    first = issue_tokens(browser, inspector)
    key = tokens.active_token_cache_key(tokens.token_checksum(first["access_token"]))
    assert cache.get(key) == tokens.ACTIVE
    refresh(browser, inspector, first["refresh_token"])
    assert cache.get(key) == tokens.REVOKED


# --- Resource indicators at the token endpoint (RFC 8707) -----------------------------------------

@pytest.mark.parametrize("resource", [settings.MCP_RESOURCE, settings.MCP_RESOURCE + "/"])
def test_the_mcp_resource_may_be_named_at_the_token_endpoint(browser, inspector, resource):
    code, verifier, _ = get_code(browser, inspector)
    response = exchange(browser, inspector, code, verifier, resource=resource)
    assert response.status_code == 200
    first = response.json()
    assert refresh(browser, inspector, first["refresh_token"], resource=resource).status_code == 200


def test_another_resource_at_the_token_endpoint_is_invalid_target(browser, inspector):
    code, verifier, _ = get_code(browser, inspector)
    response = exchange(browser, inspector, code, verifier, resource="https://other.example.com/mcp")
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"
    assert AccessToken.objects.count() == 0 and Grant.objects.count() == 1


# --- Errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("grant_type", ["client_credentials", "password", "implicit", "nonsense"])
def test_grants_not_offered_are_refused_with_rfc6749_errors(browser, servicenow_client, grant_type):
    response = post_form(browser, "/oauth/token", servicenow_client, SERVICENOW_SECRET, grant_type=grant_type,
                         username="alice", password="x")
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("unsupported_grant_type", "unauthorized_client", "invalid_grant")


def test_a_missing_grant_type_is_invalid_request(browser, inspector):
    response = post_form(browser, "/oauth/token", inspector)
    assert response.status_code == 400 and response.json()["error"] in ("invalid_request", "unsupported_grant_type")


def test_the_token_endpoint_only_accepts_post(client):
    assert client.get("/oauth/token").status_code == 405


# --- Cost (issue 5: at most 8 SQL queries per code exchange and per refresh) -----------------------

def test_a_code_exchange_and_a_refresh_take_at_most_eight_queries(browser, servicenow_client):
    code, verifier, _ = get_code(browser, servicenow_client)
    with CaptureQueriesContext(connection) as exchange_queries:
        body = exchange(browser, servicenow_client, code, verifier, secret=SERVICENOW_SECRET).json()
    with CaptureQueriesContext(connection) as refresh_queries:
        assert refresh(browser, servicenow_client, body["refresh_token"], secret=SERVICENOW_SECRET).status_code == 200
    exchange_sql, refresh_sql = statements(exchange_queries), statements(refresh_queries)
    print(f"\nSQL queries: code exchange {len(exchange_sql)}, refresh {len(refresh_sql)}")
    assert len(exchange_sql) <= 8, exchange_sql
    assert len(refresh_sql) <= 8, refresh_sql


def statements(captured) -> list[str]:
    """The queries a request runs; savepoints exist only because each test runs in a transaction."""
    return [query["sql"] for query in captured if "SAVEPOINT" not in query["sql"]]
