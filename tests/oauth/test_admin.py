"""The admin console, driven with the Django test client as a superuser: actions really revoke and disable."""

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.hashers import check_password
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauth_app import tokens
from oauth_app.models import AuditEvent, Client, InitialAccessToken
from oauth_app.registration import dcr_token_issue
from tests.support.tokens import issue_access_token

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
CHANGELIST = "/admin/oauth_app/client/"


def run_action(admin_client, url, action, objects):
    return admin_client.post(url, {"action": action, helpers.ACTION_CHECKBOX_NAME: [obj.pk for obj in objects]},
                             follow=True)


def admin_events(kind):
    return AuditEvent.objects.filter(kind=kind, actor="admin:admin")


def test_client_list_shows_provenance_active_tokens_and_last_token(admin_client, servicenow_client, alice):
    issue_access_token(servicenow_client, alice, refresh_token=True)
    issue_access_token(servicenow_client, alice, refresh_token=True)
    page = admin_client.get(CHANGELIST).content.decode()
    assert servicenow_client.client_id in page
    assert "manage.py register_client" in page  # provenance
    row = page[page.index(servicenow_client.client_id):]
    assert '<td class="field-active_tokens">2</td>' in row


def test_client_page_shows_provenance_and_redirect_uris_but_no_secret(admin_client, client, db):
    _, raw_dcr = dcr_token_issue(name="servicenow-prod")
    body = {"client_name": "acme", "redirect_uris": ["https://acme.service-now.com/oauth_redirect.do"]}
    registered = client.post("/oauth/register", body, content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {raw_dcr}").json()
    stored = Client.objects.get(client_id=registered["client_id"])
    page = admin_client.get(f"{CHANGELIST}{stored.pk}/change/").content.decode()
    assert "Initial access token (RFC 7591)" in page
    assert "servicenow-prod" in page
    assert "https://acme.service-now.com/oauth_redirect.do" in page
    assert registered["client_secret"] not in page
    assert stored.client_secret not in page  # not even the hash
    assert stored.registration_access_token_hash not in page


def test_revoke_all_tokens_action_makes_the_tokens_fail_at_once(admin_client, servicenow_client, alice):
    raw = issue_access_token(servicenow_client, alice, refresh_token=True)
    assert tokens.verify_access_token(raw).client_id == servicenow_client.client_id  # cached as active
    response = run_action(admin_client, CHANGELIST, "revoke_all_tokens", [servicenow_client])
    assert "Revoked 1 access token(s)" in response.content.decode()
    assert not AccessToken.objects.filter(application=servicenow_client).exists()
    assert not RefreshToken.objects.filter(application=servicenow_client).exists()
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(raw)
    assert admin_events("admin_action").get().details["action"] == "revoke_tokens"


def test_revoking_one_access_token_in_its_admin_is_audited_and_takes_effect(admin_client, servicenow_client, alice):
    raw = issue_access_token(servicenow_client, alice, refresh_token=True)
    tokens.verify_access_token(raw)
    run_action(admin_client, "/admin/oauth2_provider/accesstoken/", "revoke_tokens",
               [AccessToken.objects.get(application=servicenow_client)])
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(raw)
    assert admin_events("admin_action").get().details["action"] == "revoke_accesstoken"


def test_disable_action_stops_tokens_at_once_and_enable_restores_the_client(admin_client, servicenow_client, alice):
    raw = issue_access_token(servicenow_client, alice, refresh_token=True)
    tokens.verify_access_token(raw)
    run_action(admin_client, CHANGELIST, "disable_clients", [servicenow_client])
    servicenow_client.refresh_from_db()
    assert not servicenow_client.is_enabled
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(raw)
    run_action(admin_client, CHANGELIST, "enable_clients", [servicenow_client])
    assert tokens.verify_access_token(raw).client_id == servicenow_client.client_id
    assert admin_events("client_disabled").count() == 1
    assert admin_events("client_enabled").count() == 1


def test_delete_selected_deletes_the_client_and_its_tokens(admin_client, servicenow_client, alice):
    raw = issue_access_token(servicenow_client, alice, refresh_token=True)
    admin_client.post(CHANGELIST, {"action": "delete_selected", "post": "yes",
                                   helpers.ACTION_CHECKBOX_NAME: [servicenow_client.pk]})
    assert not Client.objects.filter(pk=servicenow_client.pk).exists()
    assert not AccessToken.objects.exists()
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(raw)
    assert admin_events("client_deleted").get().client_id == servicenow_client.client_id


def test_adding_a_client_shows_its_secret_once_and_stores_it_hashed(admin_client, db):
    response = admin_client.post(f"{CHANGELIST}add/", {
        "name": "ServiceNow prod", "redirect_uris": "https://acme.service-now.com/oauth_redirect.do",
        "token_endpoint_auth_method": "client_secret_post", "scope": "", "require_pkce": "on", "is_enabled": "on",
    })
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    stored = Client.objects.get(name="ServiceNow prod")
    secret = response.context["client_secret"]
    assert len(secret) >= 43 and secret in response.content.decode()
    assert check_password(secret, stored.client_secret)
    assert stored.registration_policy == "admin" and stored.client_type == "confidential"
    assert stored.scope == "mcp:tools"
    assert secret not in admin_client.get(f"{CHANGELIST}{stored.pk}/change/").content.decode()
    assert AuditEvent.objects.get(kind="client_registered", client_id=stored.client_id).actor == "admin:admin"


def test_adding_a_client_refuses_a_bad_redirect_uri(admin_client, db):
    response = admin_client.post(f"{CHANGELIST}add/", {
        "name": "bad", "redirect_uris": "http://evil.example.com/cb", "token_endpoint_auth_method": "none",
        "is_enabled": "on",
    })
    assert response.status_code == 200
    assert "http is allowed only for loopback hosts" in response.content.decode()
    assert not Client.objects.exists()


def test_the_per_client_pkce_switch_is_saved_and_audited(admin_client, servicenow_client):
    response = admin_client.post(f"{CHANGELIST}{servicenow_client.pk}/change/", {
        "name": servicenow_client.name, "redirect_uris": servicenow_client.redirect_uris,
        "scope": servicenow_client.scope, "is_enabled": "on",  # require_pkce left unticked
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    servicenow_client.refresh_from_db()
    assert servicenow_client.require_pkce is False
    event = AuditEvent.objects.get(kind="client_updated", client_id=servicenow_client.client_id)
    assert event.actor == "admin:admin" and "require_pkce" in event.details["changed"]


def test_dcr_token_list_shows_uses_and_expiry_and_revoke_action_revokes(admin_client, client, db):
    from datetime import timedelta

    token, raw = dcr_token_issue(name="servicenow-prod", expires_in=timedelta(days=7), max_uses=3)
    page = admin_client.get("/admin/oauth_app/initialaccesstoken/").content.decode()
    assert "servicenow-prod" in page and "0 / 3" in page and token.token_prefix in page
    run_action(admin_client, "/admin/oauth_app/initialaccesstoken/", "revoke_tokens", [token])
    token.refresh_from_db()
    assert token.is_revoked
    assert admin_events("dcr_token_revoked").get().details["name"] == "servicenow-prod"
    refused = client.post("/oauth/register", {"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]},
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert refused.status_code == 401
    assert admin_client.get("/admin/oauth_app/initialaccesstoken/add/").status_code == 403


def test_the_audit_log_is_read_only(admin_client, servicenow_client):
    event = AuditEvent.objects.get(kind="client_registered")
    assert admin_client.get("/admin/oauth_app/auditevent/").status_code == 200
    assert admin_client.get("/admin/oauth_app/auditevent/add/").status_code == 403
    page = admin_client.get(f"/admin/oauth_app/auditevent/{event.pk}/change/").content.decode()
    assert servicenow_client.client_id in page and 'name="_save"' not in page
    admin_client.post(f"/admin/oauth_app/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert InitialAccessToken.objects.count() == 0
