"""Access follows the account: deactivating, deleting or giving a new password to a user ends every token
they hold at once (the allow-list entry becomes a REVOKED marker, the refresh token is refused)."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauth_app import tokens
from oauth_app.accounts import revoke_user_tokens
from tests.oauth.flow import exchange, get_code, issue_tokens, refresh
from tests.support.personas import ALICE_PASSWORD
from tests.oauth.test_token import is_accepted

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
NEW_PASSWORD = "another-horse-battery-staple-43"


def allow_list_entry(access_token: str):
    return cache.get(tokens.active_token_cache_key(tokens.token_checksum(access_token)))


def assert_ended(http, oauth_client, body):
    assert not is_accepted(body["access_token"])
    response = refresh(http, oauth_client, body["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    if settings.CACHE_IS_SHARED:
        assert allow_list_entry(body["access_token"]) == tokens.REVOKED


@pytest.fixture
def tokens_of_alice(browser, inspector):
    body = issue_tokens(browser, inspector)
    assert is_accepted(body["access_token"])  # now in the allow-list
    return body


def test_deactivating_a_user_ends_their_tokens_at_once(client, alice, inspector, tokens_of_alice):
    alice.is_active = False
    alice.save()
    assert_ended(client, inspector, tokens_of_alice)
    assert not AccessToken.objects.filter(user=alice).exists() and not RefreshToken.objects.filter(user=alice).exists()


def test_setting_a_new_password_ends_the_users_tokens(client, alice, inspector, tokens_of_alice):
    alice.set_password(NEW_PASSWORD)
    alice.save()
    assert_ended(client, inspector, tokens_of_alice)


def test_deleting_a_user_ends_their_tokens(client, alice, inspector, tokens_of_alice):
    alice.delete()
    assert_ended(client, inspector, tokens_of_alice)


def test_deactivating_a_user_in_the_admin_ends_their_tokens(admin_client, alice, inspector, tokens_of_alice):
    response = admin_client.post(f"/admin/auth/user/{alice.pk}/change/", {
        "username": alice.username, "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        # the user page's IdP identity inline (oauth_app.sso.admin), left empty
        "idp_identity-TOTAL_FORMS": "0", "idp_identity-INITIAL_FORMS": "0",
    })  # is_active left unchecked
    assert response.status_code == 302, response.content[:2000]
    alice.refresh_from_db()
    assert not alice.is_active
    assert_ended(admin_client, inspector, tokens_of_alice)


def test_a_password_change_in_the_admin_ends_the_users_tokens(admin_client, alice, inspector, tokens_of_alice):
    response = admin_client.post(f"/admin/auth/user/{alice.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true",
    })
    assert response.status_code == 302, response.content[:2000]
    assert_ended(admin_client, inspector, tokens_of_alice)


def test_a_bulk_deactivation_is_refused_at_the_token_endpoint(client, alice, inspector, tokens_of_alice):
    """A queryset update sends no signal: refresh still refuses the inactive account."""
    get_user_model().objects.filter(pk=alice.pk).update(is_active=False)
    response = refresh(client, inspector, tokens_of_alice["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    revoke_user_tokens(user=alice)  # what the docs tell an operator to call after such an update
    assert not is_accepted(tokens_of_alice["access_token"])


def test_signing_in_keeps_the_users_tokens(client, alice, inspector, tokens_of_alice):
    """A sign-in re-hashes an outdated password hash (alice's is the fast test hasher): not a password change."""
    assert client.login(username="alice", password=ALICE_PASSWORD)
    alice.refresh_from_db()
    assert alice.password.startswith("pbkdf2_")  # re-hashed and saved
    assert is_accepted(tokens_of_alice["access_token"])
    assert refresh(client, inspector, tokens_of_alice["refresh_token"]).status_code == 200


def test_saving_a_user_without_changes_keeps_their_tokens(client, alice, inspector, tokens_of_alice):
    alice.first_name = "Alice"
    alice.save()
    assert is_accepted(tokens_of_alice["access_token"])


def test_an_inactive_user_gets_no_tokens_for_an_earlier_code(browser, alice, inspector):
    code, verifier, params = get_code(browser, inspector)
    get_user_model().objects.filter(pk=alice.pk).update(is_active=False)
    response = exchange(browser, inspector, code, verifier, params["redirect_uri"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_other_users_tokens_are_untouched(client, alice, inspector, tokens_of_alice):
    get_user_model().objects.create(username="bob", password=make_password("x"), is_active=True).delete()
    alice.refresh_from_db()
    assert is_accepted(tokens_of_alice["access_token"])
