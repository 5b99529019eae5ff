"""Attacks on the authorization and token endpoints, one HTTP exchange each, as an attacker sends them.
Each asserts the standard OAuth error (RFC 6749, RFC 7636, RFC 9700) and that the database did not change."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as HttpClient

from oauth_app.validators import digest
from tests.oauth.flow import age_past_the_refresh_grace, pkce_pair
from tests.security.conftest import (
    AccessToken, Grant, RefreshToken, database_unchanged, exchange, make_grant, token_request,
)
from tests.support.personas import AGENT_REDIRECT, ALICE_PASSWORD, OTHER_REDIRECT, make_client

pytestmark = pytest.mark.django_db


def authorize_params(oauth_client, **overrides) -> dict:
    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": oauth_client.client_id, "redirect_uri": AGENT_REDIRECT,
              "scope": "mcp:tools", "state": "s-123", "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


def authorize(browser, oauth_client, **overrides):
    return browser.get("/oauth/authorize?" + urlencode(authorize_params(oauth_client, **overrides)))


def redirected_error(response, redirect_uri=AGENT_REDIRECT) -> dict:
    """The error sent back to the client's own redirect URI, and no code with it."""
    assert response.status_code == 302, response.content[:300]
    location = response["Location"]
    assert location.startswith(redirect_uri + "?"), location
    query = parse_qs(urlsplit(location).query)
    assert "code" not in query
    return {name: values[0] for name, values in query.items()}


def assert_not_redirected(response):
    """RFC 6749 section 4.1.2.1: with an invalid client or redirect URI, tell the user, never redirect."""
    assert response.status_code == 400, response.status_code
    assert "Location" not in response


# --- Authorization endpoint -----------------------------------------------------------------------

def test_authorization_without_pkce_is_refused(browser, public_client):
    with database_unchanged():
        response = authorize(browser, public_client, code_challenge=None, code_challenge_method=None)
    assert redirected_error(response)["error"] == "invalid_request"


def test_authorization_with_plain_pkce_is_refused(browser, public_client):
    with database_unchanged():
        response = authorize(browser, public_client, code_challenge="a" * 43, code_challenge_method="plain")
    assert redirected_error(response)["error"] == "invalid_request"


def test_authorization_with_an_unregistered_redirect_uri_is_not_redirected(browser, public_client):
    with database_unchanged():
        assert_not_redirected(authorize(browser, public_client, redirect_uri="http://127.0.0.1:8765/other"))


def test_authorization_redirecting_to_a_foreign_host_is_not_redirected(browser, public_client):
    with database_unchanged():
        assert_not_redirected(authorize(browser, public_client, redirect_uri="https://attacker.example/callback"))


def test_authorization_for_an_unknown_client_is_no_open_redirect(browser, public_client):
    with database_unchanged():
        response = browser.get("/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": "no-such-client", "redirect_uri": "https://attacker.example/",
            "code_challenge": pkce_pair()[1], "code_challenge_method": "S256"}))
    assert_not_redirected(response)


def test_authorization_with_another_clients_redirect_uri_is_not_redirected(browser, public_client, other_client):
    with database_unchanged():
        assert_not_redirected(authorize(browser, public_client, redirect_uri=OTHER_REDIRECT))


def test_error_redirects_return_a_tampered_state_verbatim_and_inject_nothing(browser, public_client):
    tampered = "s-123&code=attacker-code&error=none"
    with database_unchanged():
        response = authorize(browser, public_client, state=tampered, code_challenge=None)
    error = redirected_error(response)
    assert error["state"] == tampered
    assert error["error"] == "invalid_request"


def test_the_implicit_grant_is_refused(browser, public_client):
    with database_unchanged():
        response = authorize(browser, public_client, response_type="token")
    # oauthlib answers unauthorized_client (the client may not use this response type); both are RFC 6749 codes.
    assert redirected_error(response)["error"] in ("unsupported_response_type", "unauthorized_client")


def test_a_disabled_client_gets_no_authorization_code(browser, public_client):
    public_client.is_enabled = False
    public_client.save()
    with database_unchanged():
        response = authorize(browser, public_client)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "code" not in parse_qs(urlsplit(response["Location"]).query)


def test_consent_posted_without_a_csrf_token_is_refused(alice, public_client):
    forged = HttpClient(enforce_csrf_checks=True)
    forged.force_login(alice)
    with database_unchanged():
        response = forged.post("/oauth/authorize", {**authorize_params(public_client), "allow": "Authorize"})
    assert response.status_code == 403


# --- Token endpoint: authorization codes ------------------------------------------------------------

def assert_token_error(response, error, status=400):
    assert response.status_code == status, response.content[:300]
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_code_exchange_with_a_wrong_verifier_is_refused(client, alice, public_client):
    code, _ = make_grant(public_client, alice)
    with database_unchanged():
        assert_token_error(exchange(client, public_client, code, pkce_pair()[0]), "invalid_grant")


def test_code_exchange_without_a_verifier_is_refused(client, alice, public_client):
    code, _ = make_grant(public_client, alice)
    with database_unchanged():
        response = token_request(client, {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": AGENT_REDIRECT, "client_id": public_client.client_id})
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")


def test_a_code_issued_with_plain_pkce_cannot_be_exchanged(client, alice, public_client):
    verifier = "v" * 50
    code, _ = make_grant(public_client, alice, method="plain", challenge=verifier)
    with database_unchanged():
        response = exchange(client, public_client, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")


def test_authorization_code_replay_is_refused_and_revokes_what_the_code_issued(client, alice, public_client):
    code, verifier = make_grant(public_client, alice)
    first = exchange(client, public_client, code, verifier)
    assert first.status_code == 200
    issued = AccessToken.objects.count()
    assert_token_error(exchange(client, public_client, code, verifier), "invalid_grant")
    assert AccessToken.objects.count() <= issued  # nothing new for the replayer
    # RFC 6749 section 4.1.2: the tokens the code produced are revoked; their refresh no longer works.
    assert_token_error(refresh(client, public_client, first.json()["refresh_token"]), "invalid_grant")


def test_a_code_issued_to_another_client_is_refused(client, alice, public_client):
    thief = make_client(name="Thief").client
    code, verifier = make_grant(public_client, alice)
    with database_unchanged():
        assert_token_error(exchange(client, thief, code, verifier), "invalid_grant")
    assert Grant.objects.filter(code=digest(code)).exists()  # the rightful client can still use it


def test_code_exchange_with_another_redirect_uri_is_refused(client, alice, public_client):
    code, verifier = make_grant(public_client, alice)
    with database_unchanged():
        response = exchange(client, public_client, code, verifier, redirect_uri="http://127.0.0.1:8765/other")
    # RFC 6749 section 5.2 names invalid_grant; oauthlib answers invalid_request (MismatchingRedirectURIError).
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_grant", "invalid_request")


def test_an_expired_code_is_refused(client, alice, public_client):
    code, verifier = make_grant(public_client, alice, expires_in=-1)
    with database_unchanged():
        assert_token_error(exchange(client, public_client, code, verifier), "invalid_grant")


def test_a_confidential_client_with_a_wrong_secret_is_refused(client, alice, confidential_client):
    oauth_client, _secret = confidential_client
    code, verifier = make_grant(oauth_client, alice)
    with database_unchanged():
        response = exchange(client, oauth_client, code, verifier, client_secret="not-the-secret")
    assert_token_error(response, "invalid_client", status=401)


def test_a_disabled_client_cannot_exchange_its_code(client, alice, public_client):
    code, verifier = make_grant(public_client, alice)
    public_client.is_enabled = False
    public_client.save()
    with database_unchanged():
        response = exchange(client, public_client, code, verifier)
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "invalid_grant")


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit"])
def test_grants_other_than_code_and_refresh_are_refused_even_with_valid_credentials(
        client, alice, confidential_client, grant_type):
    oauth_client, secret = confidential_client
    with database_unchanged():
        response = token_request(client, {"grant_type": grant_type, "client_id": oauth_client.client_id,
                                          "client_secret": secret, "username": "alice",
                                          "password": ALICE_PASSWORD, "scope": "mcp:tools"})
    assert response.status_code == 400
    assert response.json()["error"] in ("unsupported_grant_type", "unauthorized_client")
    assert "access_token" not in response.json()


# --- Token endpoint: refresh tokens ------------------------------------------------------------------

def tokens_for(client, alice, oauth_client) -> dict:
    code, verifier = make_grant(oauth_client, alice)
    response = exchange(client, oauth_client, code, verifier)
    assert response.status_code == 200, response.content
    return response.json()


def refresh(client, oauth_client, refresh_token):
    return token_request(client, {"grant_type": "refresh_token", "refresh_token": refresh_token,
                                  "client_id": oauth_client.client_id})


def test_refresh_token_replay_is_refused_and_revokes_the_family(client, alice, public_client):
    first = tokens_for(client, alice, public_client)
    second = refresh(client, public_client, first["refresh_token"])
    assert second.status_code == 200
    age_past_the_refresh_grace()
    issued = RefreshToken.objects.count()
    assert_token_error(refresh(client, public_client, first["refresh_token"]), "invalid_grant")
    assert RefreshToken.objects.count() == issued  # nothing new was issued to the replayer
    # Reuse protection: the rotated token, held by whoever replayed or by the victim, no longer works.
    assert_token_error(refresh(client, public_client, second.json()["refresh_token"]), "invalid_grant")


def test_a_refresh_token_presented_by_another_client_is_refused(client, alice, public_client, other_client):
    issued = tokens_for(client, alice, public_client)
    with database_unchanged():
        assert_token_error(refresh(client, other_client, issued["refresh_token"]), "invalid_grant")


def test_a_forged_refresh_token_is_refused(client, public_client):
    with database_unchanged():
        assert_token_error(refresh(client, public_client, "forged-refresh-token"), "invalid_grant")


# --- Revocation and introspection -----------------------------------------------------------------

def test_another_client_cannot_revoke_someone_elses_tokens(client, alice, public_client, other_client):
    issued = tokens_for(client, alice, public_client)
    with database_unchanged():
        response = client.post("/oauth/revoke", urlencode({"token": issued["refresh_token"],
                                                           "client_id": other_client.client_id}),
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 400, 401)  # RFC 7009 section 2.2: 200 even when nothing is revoked
    assert refresh(client, public_client, issued["refresh_token"]).status_code == 200  # still the owner's


def test_introspection_without_client_authentication_is_refused(client, alice, public_client):
    issued = tokens_for(client, alice, public_client)
    with database_unchanged():
        response = client.post("/oauth/introspect", urlencode({"token": issued["access_token"]}),
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_client_cannot_introspect_another_clients_token(client, alice, public_client, confidential_client):
    issued = tokens_for(client, alice, public_client)
    prober, secret = confidential_client
    with database_unchanged():
        response = client.post("/oauth/introspect", urlencode({"token": issued["access_token"],
                                                               "client_id": prober.client_id,
                                                               "client_secret": secret}),
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert response.json() == {"active": False}
