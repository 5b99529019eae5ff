"""Organisation sign-in, the parts that need no IdP on the wire (the real-provider tests are tests/e2e/test_sso.py):
the login page, OIDC_ONLY, provisioning and group sync, the admin, the checks, and that nothing OIDC-related
exists when no IdP is configured."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Group
from django.test import override_settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from mcpsite.checks import check_configuration
from oauth_app.models import AuditEvent, IdpIdentity
from oauth_app.sso.client import SignInError
from oauth_app.sso.provisioning import user_sign_in
from oauth_app.accounts import revoke_user_tokens
from tests.support.personas import make_client
from tests.support.tokens import issue_access_token

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
ISSUER = "https://login.example.com"
OIDC = {"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "mcp", "OIDC_CLIENT_SECRET": "s" * 40,
        "OIDC_PROVIDER_NAME": "Acme SSO"}
AUTHORIZE = "/oauth/authorize?response_type=code&client_id=x"


def claims(**overrides):
    return {"iss": ISSUER, "sub": "sub-1", "preferred_username": "ada", "email": "ada@example.com",
            "given_name": "Ada", "family_name": "Lovelace", **overrides}


# --- Pages -------------------------------------------------------------------------------------------------
def test_without_an_idp_the_login_page_has_no_idp_button_and_the_sso_routes_do_not_exist(client, db):
    assert "Sign in with" not in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/oidc/login/").status_code == 404
    assert client.post("/accounts/oidc/backchannel-logout/", {"logout_token": "x"}).status_code == 404


@override_settings(**OIDC)
def test_the_login_page_offers_sign_in_with_the_provider_and_keeps_the_authorize_request(client, db):
    page = client.get("/accounts/login/", {"next": AUTHORIZE}).content.decode()
    assert "Sign in with Acme SSO" in page
    assert 'href="/accounts/oidc/login/?next=%2Foauth%2Fauthorize%3Fresponse_type%3Dcode%26client_id%3Dx"' in page
    assert 'name="password"' in page


@override_settings(**OIDC, OIDC_ONLY=True)
def test_with_oidc_only_the_login_page_goes_straight_to_the_idp_and_refuses_passwords(client, django_user_model):
    django_user_model.objects.create_user("bob", password="bob-password-123")
    answer = client.get("/accounts/login/", {"next": AUTHORIZE})
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/oidc/login/?next=%2Foauth%2Fauthorize")
    posted = client.post("/accounts/login/", {"username": "bob", "password": "bob-password-123"})
    assert posted.status_code == 302 and "_auth_user_id" not in client.session


@override_settings(**OIDC, OIDC_ONLY=True)
def test_with_oidc_only_the_admin_password_form_admits_superusers_only(client, django_user_model):
    django_user_model.objects.create_user("staff", password="staff-password-123", is_staff=True)
    django_user_model.objects.create_superuser("root", password="root-password-123")
    refused = client.post("/admin/login/", {"username": "staff", "password": "staff-password-123"})
    assert refused.status_code == 200 and "identity provider" in refused.content.decode()
    admitted = client.post("/admin/login/", {"username": "root", "password": "root-password-123"})
    assert admitted.status_code == 302


@override_settings(**OIDC)
def test_a_next_url_on_another_site_is_not_followed_after_sign_in(client, db):
    page = client.get("/accounts/login/", {"next": "https://evil.example/"}).content.decode()
    [href] = re.findall(r'id="oidc-sign-in" href="([^"]+)"', page)
    assert href == "/accounts/oidc/login/?next=%2Faccounts%2Fprofile%2F"  # LOGIN_REDIRECT_URL instead


@override_settings(**OIDC)
def test_a_callback_error_from_the_idp_is_a_page_with_retry_and_cancel(client, db):
    session = client.session
    session["oidc_next"] = AUTHORIZE
    session.save()
    page = client.get("/accounts/oidc/callback/", {"error": "access_denied", "error_description": "no"})
    assert page.status_code == 400
    text = page.content.decode()
    assert "Sign-in was cancelled or refused" in text
    assert 'id="cancel" href="/accounts/oidc/cancel/?next=%2Foauth%2Fauthorize' in text


# --- Provisioning ------------------------------------------------------------------------------------------
@override_settings(**OIDC)
def test_first_sign_in_creates_the_user_without_a_password_and_links_the_subject(db):
    user = user_sign_in(claims=claims())
    assert (user.username, user.email, user.first_name, user.last_name) == ("ada", "ada@example.com", "Ada",
                                                                            "Lovelace")
    assert not user.has_usable_password()
    identity = IdpIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (ISSUER, "sub-1") and identity.last_sign_in_at is not None


@override_settings(**OIDC)
def test_the_subject_not_the_username_identifies_the_person_again(db, django_user_model):
    first = user_sign_in(claims=claims())
    django_user_model.objects.create_user("taken")
    renamed = user_sign_in(claims=claims(preferred_username="ada2", email="new@example.com"))
    blocked = user_sign_in(claims=claims(preferred_username="taken", email="new@example.com"))  # not taken
    assert renamed.pk == first.pk == blocked.pk
    assert blocked.username == "ada2" and blocked.email == "new@example.com"
    assert django_user_model.objects.filter(username="taken").get().pk != first.pk


@override_settings(**OIDC)
@pytest.mark.parametrize("bad, kind", [({"preferred_username": None}, "no_username"),
                                       ({"preferred_username": "has space/slash"}, "bad_username")])
def test_a_missing_or_unusable_username_creates_nothing(db, django_user_model, bad, kind):
    with pytest.raises(SignInError) as raised:
        user_sign_in(claims=claims(**bad))
    assert raised.value.kind == kind
    assert not django_user_model.objects.exists() and not IdpIdentity.objects.exists()


@override_settings(**OIDC)
def test_a_local_account_with_the_same_name_is_refused_not_taken_over(db, django_user_model):
    local = django_user_model.objects.create_user("ada", password="local-password-123")
    with pytest.raises(SignInError) as raised:
        user_sign_in(claims=claims())
    assert raised.value.kind == "taken"
    local.refresh_from_db()
    assert local.check_password("local-password-123") and not IdpIdentity.objects.exists()


@override_settings(**OIDC)
def test_a_deactivated_user_cannot_sign_in_through_the_idp(db):
    user = user_sign_in(claims=claims())
    user.is_active = False
    user.save()
    with pytest.raises(SignInError) as raised:
        user_sign_in(claims=claims())
    assert raised.value.kind == "inactive"


@override_settings(**OIDC, OIDC_GROUP_MAP=[("eng", "engineers"), ("ops", "operators")])
def test_groups_sync_through_the_map_and_leave_other_groups_alone(db):
    user = user_sign_in(claims=claims(groups=["eng", "ops", "unmapped"]))
    user.groups.add(Group.objects.create(name="local-only"))
    assert sorted(user.groups.values_list("name", flat=True)) == ["engineers", "local-only", "operators"]

    user = user_sign_in(claims=claims(groups=["ops"]))
    assert sorted(user.groups.values_list("name", flat=True)) == ["local-only", "operators"]
    assert not Group.objects.filter(name="unmapped").exists()


@override_settings(**OIDC, OIDC_GROUP_MAP=[])
def test_with_an_empty_map_groups_are_mirrored_by_name_and_only_mirrored_ones_are_removed(db):
    user = user_sign_in(claims=claims(groups=["eng", "ops"]))
    user.groups.add(Group.objects.create(name="local-only"))
    user = user_sign_in(claims=claims(groups=["ops"]))
    assert sorted(user.groups.values_list("name", flat=True)) == ["local-only", "ops"]
    user = user_sign_in(claims=claims())  # no groups claim at all: groups left as they are
    assert sorted(user.groups.values_list("name", flat=True)) == ["local-only", "ops"]


@override_settings(**OIDC, OIDC_GROUP_MAP=[])
@pytest.mark.parametrize("text, stored", [("nul\x00inside", "nul\ufffdinside"), ("lone \ud800", "lone \ufffd")],
                         ids=["nul", "surrogate"])
def test_profile_text_postgresql_cannot_hold_still_signs_in_and_such_a_group_is_not_mirrored(db, text, stored, caplog):
    user = user_sign_in(claims=claims(given_name=text, family_name=text, email=text, sid=text,
                                      groups=["ops", text, "g" * 151]))
    user.refresh_from_db()
    assert user.first_name == user.last_name == user.email == stored
    assert list(user.groups.values_list("name", flat=True)) == ["ops"]
    assert IdpIdentity.objects.get().synced_groups == ["ops"]
    assert "cannot be a group here" in caplog.text


@override_settings(**OIDC)
@pytest.mark.parametrize("subject", ["s" * 256, "nul\x00inside"], ids=["long", "nul"])
def test_a_subject_this_server_cannot_store_is_refused_and_creates_nothing(db, django_user_model, subject):
    with pytest.raises(SignInError) as raised:
        user_sign_in(claims=claims(sub=subject))
    assert raised.value.kind == "bad_subject"
    assert not django_user_model.objects.exists() and not IdpIdentity.objects.exists()


# --- Lifecycle in the database -----------------------------------------------------------------------------
@override_settings(**OIDC, OIDC_SESSION_MAX_AGE=60)
def test_an_idp_sign_in_is_current_until_max_age_or_a_logout(db):
    identity = IdpIdentity.objects.get(user=user_sign_in(claims=claims()))
    assert identity.sign_in_is_current(60)
    identity.last_sign_in_at = timezone.now() - timedelta(seconds=61)
    assert not identity.sign_in_is_current(60)
    identity.last_sign_in_at = timezone.now()
    identity.signed_out_at = identity.last_sign_in_at + timedelta(microseconds=1)
    assert not identity.sign_in_is_current(60)


@override_settings(**OIDC, OIDC_SESSION_MAX_AGE=60)
def test_an_idp_user_whose_sign_in_is_stale_is_sent_to_sign_in_again_at_authorize(client, db):
    user = user_sign_in(claims=claims())
    client.force_login(user)
    IdpIdentity.objects.filter(user=user).update(last_sign_in_at=timezone.now() - timedelta(hours=1))
    answer = client.get(AUTHORIZE)
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_revoke_user_tokens_ends_access_and_refresh_tokens_of_that_user_only(db, django_user_model):
    oauth_client = make_client().client
    ada, bob = django_user_model.objects.create_user("ada"), django_user_model.objects.create_user("bob")
    for user in (ada, ada, bob):
        issue_access_token(oauth_client, user, refresh_token=True)
    assert revoke_user_tokens(user=ada) == 2
    assert not AccessToken.objects.filter(user=ada).exists() and not RefreshToken.objects.filter(user=ada).exists()
    assert AccessToken.objects.filter(user=bob).count() == 1


# --- Admin -------------------------------------------------------------------------------------------------
@override_settings(**OIDC)
def test_the_user_admin_shows_the_idp_identity_and_revokes_all_tokens(admin_client, db):
    ada = user_sign_in(claims=claims())
    issue_access_token(make_client().client, ada, refresh_token=True)
    page = admin_client.get(f"/admin/auth/user/{ada.pk}/change/").content.decode()
    assert "sub-1" in page and ISSUER in page and "Last sign in at" in page
    assert "Last IdP sign-in" in admin_client.get("/admin/auth/user/").content.decode()

    done = admin_client.post("/admin/auth/user/", {"action": "revoke_tokens",
                                                   helpers.ACTION_CHECKBOX_NAME: [ada.pk]}, follow=True)
    assert "Revoked 1 access token(s) of 1 user(s)." in done.content.decode()
    assert not AccessToken.objects.filter(user=ada).exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.ADMIN_ACTION, details__user="ada").exists()


# --- Checks ------------------------------------------------------------------------------------------------
def check_ids(**overrides):
    with override_settings(**overrides):
        return {message.id for message in check_configuration()}


def test_no_oidc_setting_is_needed():
    assert not {i for i in check_ids(OIDC_ISSUER="", OIDC_ONLY=False) if i >= "mcpsite.E020"}


@pytest.mark.parametrize("overrides, check_id", [
    ({"OIDC_ISSUER": "", "OIDC_ONLY": True}, "mcpsite.E020"),
    ({**OIDC, "OIDC_ISSUER": "login.example.com"}, "mcpsite.E021"),
    ({**OIDC, "OIDC_CLIENT_ID": ""}, "mcpsite.E022"),
    ({**OIDC, "OIDC_SCOPES": "email profile"}, "mcpsite.E023"),
    ({**OIDC, "OIDC_SESSION_MAX_AGE": 0}, "mcpsite.E024"),
    ({**OIDC, "OIDC_ISSUER": "http://login.example.com", "IS_PRODUCTION": True}, "mcpsite.E025"),
    ({**OIDC, "OIDC_CLIENT_SECRET": "", "IS_PRODUCTION": True}, "mcpsite.E026"),
])
def test_each_unsafe_oidc_setting_is_reported(overrides, check_id):
    assert check_id in check_ids(**overrides)
