"""Sign-in limits that hold: the admin page is limited like the OAuth sign-in, spelling variants of a
username share one counter, and a burst of wrong passwords from one place cannot lock the owner out from
another (per address and per (account, address) at RATE_LIMIT_LOGIN_MAX, per account far higher)."""

import pytest
from django.conf import settings

from tests.security.conftest import database_unchanged
from tests.support.personas import ALICE_PASSWORD

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def staff_alice(alice):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    return alice


def sign_in(client, username, password, remote="203.0.113.5", path=None):
    return client.post(path or settings.LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=remote)


def assert_page_429(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["Content-Type"].startswith("text/html")


def test_the_admin_sign_in_page_answers_429_once_an_address_has_failed_too_often(client, settings, staff_alice):
    settings.RATE_LIMIT_LOGIN_MAX = 3
    for n in range(3):
        assert sign_in(client, "alice", f"guess-{n}", path=ADMIN_LOGIN).status_code == 200
    with database_unchanged():
        response = sign_in(client, "alice", ALICE_PASSWORD, path=ADMIN_LOGIN)
    assert_page_429(response)
    assert "_auth_user_id" not in client.session


def test_failures_on_the_admin_page_and_the_sign_in_form_share_the_counters(client, settings, staff_alice):
    settings.RATE_LIMIT_LOGIN_MAX = 2
    sign_in(client, "alice", "guess", path=ADMIN_LOGIN)
    sign_in(client, "alice", "guess")
    assert_page_429(sign_in(client, "alice", ALICE_PASSWORD, path=ADMIN_LOGIN))


def test_a_correct_password_refused_by_the_admin_for_a_non_staff_account_is_not_a_failed_sign_in(client, settings,
                                                                                                   alice):
    """Counted from user_login_failed, not from the page's status: the admin answers 200 here too."""
    settings.RATE_LIMIT_LOGIN_MAX = 2
    for _ in range(4):
        assert sign_in(client, "alice", ALICE_PASSWORD, path=ADMIN_LOGIN).status_code == 200


@pytest.mark.parametrize("variant", ["ALICE", "Alice", "\uff41\uff4c\uff49\uff43\uff45", " alice "])
def test_spelling_variants_of_a_username_share_one_account_counter(client, settings, alice, variant):
    settings.RATE_LIMIT_LOGIN_MAX = 5
    settings.RATE_LIMIT_LOGIN_ACCOUNT_MAX = 2
    sign_in(client, "alice", "guess", remote="198.51.100.1")
    sign_in(client, variant, "guess", remote="198.51.100.2")
    assert_page_429(sign_in(client, "alice", ALICE_PASSWORD, remote="198.51.100.3"))


def test_spelling_variants_from_one_address_share_the_account_and_address_counter(client, settings, alice):
    settings.RATE_LIMIT_LOGIN_MAX = 2
    sign_in(client, "ALICE", "guess", remote="198.51.100.1")
    sign_in(client, "\uff41\uff4c\uff49\uff43\uff45", "guess", remote="198.51.100.1")
    assert_page_429(sign_in(client, "alice", ALICE_PASSWORD, remote="198.51.100.1"))


@pytest.mark.parametrize("path", [None, ADMIN_LOGIN])
def test_a_burst_of_wrong_passwords_from_one_address_does_not_lock_the_owner_out_from_another(client, settings,
                                                                                               staff_alice, path):
    settings.RATE_LIMIT_LOGIN_MAX = 3
    settings.RATE_LIMIT_LOGIN_ACCOUNT_MAX = 30
    for n in range(6):
        sign_in(client, "alice", f"guess-{n}", remote="203.0.113.66", path=path)
    assert_page_429(sign_in(client, "alice", ALICE_PASSWORD, remote="203.0.113.66", path=path))
    assert sign_in(client, "alice", ALICE_PASSWORD, remote="198.51.100.20", path=path).status_code == 302
    assert "_auth_user_id" in client.session


def test_failures_spread_over_many_addresses_still_meet_the_per_account_ceiling(client, settings, alice):
    settings.RATE_LIMIT_LOGIN_MAX = 2
    settings.RATE_LIMIT_LOGIN_ACCOUNT_MAX = 4
    for n in range(4):
        assert sign_in(client, "alice", "guess", remote=f"198.51.100.{n}").status_code == 200
    assert_page_429(sign_in(client, "alice", ALICE_PASSWORD, remote="198.51.100.99"))


def test_the_per_account_ceiling_defaults_to_ten_times_the_per_address_limit():
    assert settings.RATE_LIMIT_LOGIN_ACCOUNT_MAX == 10 * settings.RATE_LIMIT_LOGIN_MAX
