"""Attacks on dynamic client registration (RFC 7591/7592): missing, wrong, expired, exhausted or revoked
initial access tokens; dangerous redirect URIs; hostile JSON. The standard error, and no client created,
no use spent."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.security.conftest import database_unchanged, issue_initial_access_token

pytestmark = pytest.mark.django_db

METADATA = {"client_name": "Evil agent", "redirect_uris": ["https://agent.example.com/callback"],
            "token_endpoint_auth_method": "none"}


def register(http, body, token=None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return http.post("/oauth/register", data, content_type="application/json", **headers)


def assert_registration_error(response, error, status=400):
    assert response.status_code == status, response.content[:300]
    assert response.json()["error"] == error
    assert "client_id" not in response.json()
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def initial_token(db):
    return issue_initial_access_token(max_uses=5)


def test_a_valid_initial_access_token_registers_a_client(client, initial_token):
    """The control case: the refusals below are about the attack, not a broken request."""
    assert register(client, METADATA, initial_token).status_code == 201


def test_registration_without_an_initial_access_token_is_refused(client, initial_token):
    with database_unchanged():
        assert_registration_error(register(client, METADATA), "invalid_token", 401)


def test_registration_with_a_wrong_initial_access_token_is_refused(client, initial_token):
    with database_unchanged():
        assert_registration_error(register(client, METADATA, initial_token + "x"), "invalid_token", 401)


@pytest.mark.parametrize("state", [
    {"expires_at": timezone.now() - timedelta(seconds=1)},
    {"max_uses": 2, "uses": 2},
    {"revoked": True},
], ids=["expired", "exhausted", "revoked"])
def test_registration_with_an_unusable_initial_access_token_is_refused(client, state):
    token = issue_initial_access_token(**state)
    with database_unchanged():
        assert_registration_error(register(client, METADATA, token), "invalid_token", 401)


def test_a_basic_scheme_initial_token_is_not_accepted(client, initial_token):
    with database_unchanged():
        response = register(client, METADATA, HTTP_AUTHORIZATION=f"Basic {initial_token}")
    assert_registration_error(response, "invalid_token", 401)


@pytest.mark.parametrize("uri", [
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "http://agent.example.com/callback",  # http on a public host
    "https://*.example.com/callback",
    "https://agent.example.com/*",
    "file:///etc/passwd",
    "https://user:pass@agent.example.com/callback",
    "https://agent.example.com/callback#fragment",
    "//agent.example.com/callback",
])
def test_dangerous_redirect_uris_are_refused(client, initial_token, uri):
    with database_unchanged():
        response = register(client, {**METADATA, "redirect_uris": [uri]}, initial_token)
    assert_registration_error(response, "invalid_redirect_uri")


def test_one_bad_redirect_uri_among_good_ones_refuses_the_whole_registration(client, initial_token):
    uris = ["https://agent.example.com/callback", "javascript:alert(1)"]
    with database_unchanged():
        assert_registration_error(register(client, {**METADATA, "redirect_uris": uris}, initial_token),
                                  "invalid_redirect_uri")


def test_an_oversized_registration_body_is_refused(client, initial_token):
    body = {**METADATA, "client_name": "x" * 100, "padding": "p" * 200_000}
    with database_unchanged():
        response = register(client, body, initial_token)
    assert response.status_code in (400, 413)
    assert response.json()["error"] in ("invalid_client_metadata", "invalid_request")


def test_deeply_nested_registration_json_is_refused_without_a_server_error(client, initial_token):
    body = '{"redirect_uris": ' + "[" * 20_000 + "]" * 20_000 + "}"
    with database_unchanged():
        response = register(client, body, initial_token)
    assert_registration_error(response, "invalid_client_metadata")


@pytest.mark.parametrize("body", ["not json", "[]", '"a string"', "null", b"\xff\xfe"])
def test_malformed_registration_bodies_are_invalid_metadata(client, initial_token, body):
    with database_unchanged():
        assert_registration_error(register(client, body, initial_token), "invalid_client_metadata")


def test_the_registration_token_of_one_client_cannot_read_another(client, initial_token):
    mine = register(client, METADATA, initial_token).json()
    theirs = register(client, {**METADATA, "client_name": "Victim"}, initial_token).json()
    with database_unchanged():
        response = client.get(f"/oauth/register/{theirs['client_id']}",
                              HTTP_AUTHORIZATION=f"Bearer {mine['registration_access_token']}")
    assert response.status_code == 401
    assert "client_secret" not in response.json()


def test_an_initial_access_token_is_not_a_registration_access_token(client, initial_token):
    registered = register(client, METADATA, initial_token).json()
    with database_unchanged():
        response = client.delete(f"/oauth/register/{registered['client_id']}",
                                 HTTP_AUTHORIZATION=f"Bearer {initial_token}")
    assert response.status_code == 401
