"""/oauth/authorize: login, consent, PKCE, redirect URIs, state, iss and resource (RFC 6749 4.1, RFC 9207, RFC 8707)."""

import hashlib

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.test import override_settings
from oauth2_provider.models import get_grant_model

from oauth_app.models import AuditEvent, Client, Consent
from tests.oauth.flow import (
    authorization_params, authorize, consent, exchange, get_code, issue_tokens, pkce_pair, redirect_query,
)
from tests.support.personas import ALICE_PASSWORD, LOOPBACK_REDIRECT, SERVICENOW_SECRET
from tests.oauth.test_registration import dcr_token, manage, register

Grant = get_grant_model()


def test_an_anonymous_user_is_sent_to_the_login_page_and_back(client, alice, inspector):
    _, challenge = pkce_pair()
    params = authorization_params(inspector, challenge)
    response = authorize(client, params)
    assert response.status_code == 302
    login_url = response["Location"]
    assert login_url.startswith(settings.LOGIN_URL)
    page = client.get(login_url)
    assert page.status_code == 200 and b'name="password"' in page.content
    next_url = page.context["next"]
    signed_in = client.post(login_url, {"username": "alice", "password": ALICE_PASSWORD, "next": next_url})
    assert signed_in.status_code == 302 and signed_in["Location"] == next_url
    assert client.get(next_url).status_code == 200  # the consent page


def test_the_consent_page_names_the_client_its_redirect_host_and_the_scopes(browser, inspector):
    _, challenge = pkce_pair()
    page = authorize(browser, authorization_params(inspector, challenge))
    assert page.status_code == 200
    html = page.content.decode()
    assert "MCP Inspector" in html
    assert "127.0.0.1:33418" in html
    assert settings.OAUTH_SCOPES["mcp:tools"] in html
    assert "csrfmiddlewaretoken" in html


def test_the_consent_page_cannot_be_framed_or_cached(browser, inspector):
    _, challenge = pkce_pair()
    page = authorize(browser, authorization_params(inspector, challenge))
    assert page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "no-store" in page["Cache-Control"] or "no-cache" in page["Cache-Control"]


def test_the_consent_form_is_csrf_protected(alice, inspector):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(alice)
    _, challenge = pkce_pair()
    page = authorize(http, authorization_params(inspector, challenge))
    data = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    forged = http.post("/oauth/authorize", {**data, "allow": "on"})
    assert forged.status_code == 403
    assert not Grant.objects.exists()


def test_approval_redirects_with_code_state_and_iss(browser, inspector):
    _, challenge = pkce_pair()
    params = authorization_params(inspector, challenge)
    query = redirect_query(consent(browser, authorize(browser, params)))
    assert query["state"] == params["state"]
    assert query["iss"] == settings.OAUTH_ISSUER
    assert query["code"]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CONSENT_GIVEN, client_id=inspector.client_id).exists()


def test_denial_redirects_with_access_denied_state_and_iss(browser, inspector):
    _, challenge = pkce_pair()
    params = authorization_params(inspector, challenge)
    response = consent(browser, authorize(browser, params), allow=False)
    assert response["Location"].startswith(LOOPBACK_REDIRECT + "?")
    query = redirect_query(response)
    assert query["error"] == "access_denied"
    assert query["state"] == params["state"]
    assert query["iss"] == settings.OAUTH_ISSUER
    assert not Grant.objects.exists() and not Consent.objects.exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CONSENT_DENIED).exists()


def test_consent_is_remembered_per_user_client_and_scope(browser, inspector, servicenow_client):
    get_code(browser, inspector)
    assert Consent.objects.filter(client=inspector, scope="mcp:tools").count() == 1
    _, challenge = pkce_pair()
    again = authorize(browser, authorization_params(inspector, challenge))
    assert again.status_code == 302 and "code=" in again["Location"] and "iss=" in again["Location"]
    other_client = authorize(browser, authorization_params(servicenow_client, challenge))
    assert other_client.status_code == 200  # another client asks again


@override_settings(OAUTH_REMEMBER_CONSENT=False)
def test_consent_is_asked_every_time_when_remembering_is_off(browser, inspector):
    get_code(browser, inspector)
    _, challenge = pkce_pair()
    assert authorize(browser, authorization_params(inspector, challenge)).status_code == 200


@override_settings(OAUTH_REMEMBER_CONSENT=False)
def test_a_client_cannot_skip_consent_with_approval_prompt(browser, inspector):
    issue_tokens(browser, inspector)  # a live token exists: DOT's "auto" would approve silently
    _, challenge = pkce_pair()
    page = authorize(browser, authorization_params(inspector, challenge, approval_prompt="auto"))
    assert page.status_code == 200


# --- Remembered consent is bound to the exact redirect URI ----------------------------------------

def loopback(port: int) -> str:
    return f"http://127.0.0.1:{port}/callback"


def test_a_remembered_consent_does_not_carry_over_to_another_loopback_port(browser, inspector):
    """RFC 8252 lets any local app pick a port: approval for port 50001 says nothing about 50002."""
    get_code(browser, inspector, redirect_uri=loopback(50001))
    _, challenge = pkce_pair()
    same_port = authorize(browser, authorization_params(inspector, challenge, redirect_uri=loopback(50001)))
    assert same_port.status_code == 302 and "code=" in same_port["Location"]
    grants_before = Grant.objects.count()
    attacker_port = authorize(browser, authorization_params(inspector, challenge, redirect_uri=loopback(50002)))
    assert attacker_port.status_code == 200 and attacker_port.context["form"].initial["redirect_uri"] == loopback(50002)
    assert Grant.objects.count() == grants_before  # no code was issued for the attacker's port


def test_a_remembered_consent_does_not_carry_over_to_another_registered_redirect_uri(browser, inspector):
    get_code(browser, inspector, redirect_uri=LOOPBACK_REDIRECT)
    _, challenge = pkce_pair()
    other = authorize(browser, authorization_params(
        inspector, challenge, redirect_uri="https://claude.ai/api/mcp/auth_callback"))
    assert other.status_code == 200


def test_changing_the_redirect_uris_with_rfc7592_asks_for_consent_again(browser, dcr_token):
    body = {"client_name": "app", "redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"}
    registered = register(browser, body, dcr_token).json()
    app = Client.objects.get(client_id=registered["client_id"])
    get_code(browser, app)
    _, challenge = pkce_pair()
    assert authorize(browser, authorization_params(app, challenge)).status_code == 302  # remembered
    updated = {**body, "client_id": app.client_id,
               "redirect_uris": ["https://app.example.com/cb", "https://evil.example.net/cb"]}
    assert manage(browser, "put", registered, body=updated).status_code == 200
    assert authorize(browser, authorization_params(app, challenge)).status_code == 200
    assert not Consent.objects.filter(client=app).exists()


def test_a_confidential_client_with_a_fixed_redirect_uri_keeps_its_remembered_consent(browser, servicenow_client):
    get_code(browser, servicenow_client)
    servicenow_client.name = "ServiceNow (renamed)"
    servicenow_client.save()  # a change that is not about redirect URIs
    _, challenge = pkce_pair()
    again = authorize(browser, authorization_params(servicenow_client, challenge))
    assert again.status_code == 302 and "code=" in again["Location"]


# --- PKCE ---------------------------------------------------------------------------------------

def test_a_public_client_must_send_a_pkce_challenge(browser, inspector):
    params = authorization_params(inspector)
    query = redirect_query(authorize(browser, params))
    assert query["error"] == "invalid_request" and query["state"] == params["state"]
    assert query["iss"] == settings.OAUTH_ISSUER


@pytest.mark.parametrize("method", ["plain", None])
def test_the_plain_pkce_method_is_refused_before_consent(browser, inspector, method):
    verifier, _ = pkce_pair()
    params = authorization_params(inspector, code_challenge=verifier, code_challenge_method=method)
    query = redirect_query(authorize(browser, params))
    assert query["error"] == "invalid_request"
    assert "S256" in query["error_description"]


def test_a_confidential_client_needs_pkce_by_default(browser, servicenow_client):
    query = redirect_query(authorize(browser, authorization_params(servicenow_client)))
    assert query["error"] == "invalid_request"


def test_a_confidential_client_switched_off_in_the_admin_may_omit_pkce(browser, servicenow_client):
    servicenow_client.require_pkce = False
    servicenow_client.save()
    page = authorize(browser, authorization_params(servicenow_client))
    code = redirect_query(consent(browser, page))["code"]
    response = exchange(browser, servicenow_client, code, None, secret=SERVICENOW_SECRET)
    assert response.status_code == 200, response.content


def test_a_public_client_cannot_be_switched_off_pkce(browser, inspector):
    inspector.require_pkce = False
    inspector.save()
    assert redirect_query(authorize(browser, authorization_params(inspector)))["error"] == "invalid_request"


# --- Clients and redirect URIs --------------------------------------------------------------------

def test_a_disabled_client_cannot_start_an_authorization(browser, inspector):
    inspector.is_enabled = False
    inspector.save()
    _, challenge = pkce_pair()
    page = authorize(browser, authorization_params(inspector, challenge))
    assert page.status_code == 400
    assert b"invalid_client" in page.content or b"client" in page.content
    assert "Location" not in page


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example.com/callback",
    "http://127.0.0.1:33418/callback/",
    "http://127.0.0.1:33418/callback?x=1",
    "http://127.0.0.1:33418/other",
    "https://claude.ai:8443/api/mcp/auth_callback",
    "https://claude.ai/api/mcp/auth_callback#frag",
])
def test_an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(browser, inspector, redirect_uri):
    _, challenge = pkce_pair()
    page = authorize(browser, authorization_params(inspector, challenge, redirect_uri=redirect_uri))
    assert page.status_code == 400
    assert "Location" not in page


def test_a_loopback_redirect_uri_may_use_any_port(browser, inspector):
    code, verifier, params = get_code(browser, inspector, redirect_uri="http://127.0.0.1:50123/callback")
    assert exchange(browser, inspector, code, verifier, params["redirect_uri"]).status_code == 200


def test_the_code_is_bound_to_the_redirect_uri_of_the_request(browser, inspector):
    code, verifier, _ = get_code(browser, inspector, redirect_uri="http://127.0.0.1:50123/callback")
    response = exchange(browser, inspector, code, verifier, "http://127.0.0.1:50124/callback")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


# --- Resource (RFC 8707) --------------------------------------------------------------------------

def test_the_resource_defaults_to_the_mcp_endpoint(browser, inspector):
    get_code(browser, inspector)
    assert Grant.objects.get().resource == [settings.MCP_RESOURCE]


@pytest.mark.parametrize("resource", [settings.MCP_RESOURCE, settings.MCP_RESOURCE + "/"])
def test_the_mcp_resource_is_accepted_with_or_without_trailing_slash(browser, inspector, resource):
    get_code(browser, inspector, resource=resource)
    assert Grant.objects.get().resource == [settings.MCP_RESOURCE]


@pytest.mark.parametrize("resource", ["https://other.example.com/mcp", settings.OAUTH_ISSUER, "not a uri"])
def test_another_resource_is_refused_before_consent(browser, inspector, resource):
    _, challenge = pkce_pair()
    params = authorization_params(inspector, challenge, resource=resource)
    query = redirect_query(authorize(browser, params))
    assert query["error"] == "invalid_target"
    assert query["state"] == params["state"] and query["iss"] == settings.OAUTH_ISSUER


def test_a_tampered_resource_in_the_consent_form_is_refused(browser, inspector):
    _, challenge = pkce_pair()
    page = authorize(browser, authorization_params(inspector, challenge))
    data = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    query = redirect_query(browser.post("/oauth/authorize", {**data, "allow": "on",
                                                             "resource": "https://other.example.com/mcp"}))
    assert query["error"] == "invalid_target"
    assert not Grant.objects.exists()


def test_the_database_holds_only_a_digest_of_the_code(browser, inspector):
    code, _, _ = get_code(browser, inspector)
    stored = Grant.objects.get().code
    assert stored != code and stored == hashlib.sha256(code.encode()).hexdigest()
    assert not Grant.objects.filter(code=code).exists()


@pytest.mark.parametrize("response_type", ["token", "id_token", "code token"])
def test_only_the_code_response_type_is_offered(browser, inspector, response_type):
    _, challenge = pkce_pair()
    params = authorization_params(inspector, challenge, response_type=response_type)
    query = redirect_query(authorize(browser, params))
    assert query["error"] in ("unsupported_response_type", "unauthorized_client")
    assert "access_token" not in query and "code" not in query


@pytest.fixture
def finance_scope(settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "SCOPES": {
        **settings.OAUTH2_PROVIDER["SCOPES"], "mcp:finance": "Use the finance tools"}}


def test_a_step_up_consent_shows_only_the_added_scopes_as_new(browser, inspector, finance_scope):
    issue_tokens(browser, inspector)  # mcp:tools, approved and used
    _, challenge = pkce_pair()
    page = authorize(browser, authorization_params(inspector, challenge, scope="mcp:tools mcp:finance"))
    assert page.status_code == 200
    new, already = page.context["new_scopes"], page.context["granted_scopes"]
    assert new == ["Use the finance tools"]
    assert already == [settings.OAUTH_SCOPES["mcp:tools"]]
    html = page.content.decode()
    assert html.index("Use the finance tools") < html.index("Already allowed") < html.index(
        settings.OAUTH_SCOPES["mcp:tools"])


def test_a_first_consent_shows_every_scope_as_new(browser, inspector, finance_scope):
    _, challenge = pkce_pair()
    page = authorize(browser, authorization_params(inspector, challenge, scope="mcp:tools mcp:finance"))
    assert page.context["granted_scopes"] == []
    assert "Already allowed" not in page.content.decode()
