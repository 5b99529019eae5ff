"""/oauth/introspect (RFC 7662): confidential clients, about their own tokens."""

import base64

from django.conf import settings

from tests.oauth.flow import issue_tokens, post_form, refresh
from tests.support.personas import BASIC_SECRET, SERVICENOW_SECRET



def introspect(http, oauth_client, token, secret=None, **extra):
    return post_form(http, "/oauth/introspect", oauth_client, secret, token=token, **extra)


def test_an_active_access_token_is_described(browser, servicenow_client, alice):
    body = issue_tokens(browser, servicenow_client, SERVICENOW_SECRET)
    response = introspect(browser, servicenow_client, body["access_token"], SERVICENOW_SECRET)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    answer = response.json()
    assert answer["active"] is True
    assert answer["client_id"] == servicenow_client.client_id
    assert answer["scope"] == "mcp:tools"
    assert answer["aud"] == settings.MCP_RESOURCE
    assert answer["iss"] == settings.OAUTH_ISSUER
    assert answer["sub"] == str(alice.pk) and answer["username"] == "alice"
    assert answer["token_type"] == "Bearer" and answer["exp"] > answer["iat"]


def test_an_active_refresh_token_is_described(browser, basic_client):
    body = issue_tokens(browser, basic_client, BASIC_SECRET)
    answer = introspect(browser, basic_client, body["refresh_token"], BASIC_SECRET,
                        token_type_hint="refresh_token").json()
    assert answer["active"] is True
    assert answer["client_id"] == basic_client.client_id and answer["aud"] == settings.MCP_RESOURCE
    assert answer["username"] == "alice" and answer["exp"] > answer["iat"]


def test_a_rotated_or_revoked_token_is_inactive(browser, servicenow_client):
    first = issue_tokens(browser, servicenow_client, SERVICENOW_SECRET)
    refresh(browser, servicenow_client, first["refresh_token"], secret=SERVICENOW_SECRET)
    for token in (first["access_token"], first["refresh_token"]):
        assert introspect(browser, servicenow_client, token, SERVICENOW_SECRET).json() == {"active": False}


def test_a_disabled_clients_token_is_inactive(browser, servicenow_client, basic_client):
    body = issue_tokens(browser, servicenow_client, SERVICENOW_SECRET)
    servicenow_client.is_enabled = False
    servicenow_client.save()
    response = introspect(browser, servicenow_client, body["access_token"], SERVICENOW_SECRET)
    assert response.status_code == 401  # a disabled client cannot authenticate at all


def test_a_client_learns_nothing_about_another_clients_tokens(browser, servicenow_client, basic_client):
    body = issue_tokens(browser, servicenow_client, SERVICENOW_SECRET)
    for token in (body["access_token"], body["refresh_token"]):
        assert introspect(browser, basic_client, token, BASIC_SECRET).json() == {"active": False}


def test_garbage_is_inactive(browser, servicenow_client):
    assert introspect(browser, servicenow_client, "garbage", SERVICENOW_SECRET).json() == {"active": False}


def test_a_public_client_may_not_introspect(browser, inspector):
    body = issue_tokens(browser, inspector)
    response = introspect(browser, inspector, body["access_token"])
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_an_unauthenticated_caller_gets_401_with_a_basic_challenge(client, db):
    response = client.post("/oauth/introspect", {"token": "x"})
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic ")


def test_the_wrong_authentication_method_is_refused(browser, servicenow_client):
    body = issue_tokens(browser, servicenow_client, SERVICENOW_SECRET)
    basic = base64.b64encode(f"{servicenow_client.client_id}:{SERVICENOW_SECRET}".encode()).decode()
    response = browser.post("/oauth/introspect", {"token": body["access_token"]}, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 401


def test_a_missing_token_is_invalid_request(browser, servicenow_client):
    response = post_form(browser, "/oauth/introspect", servicenow_client, SERVICENOW_SECRET)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
