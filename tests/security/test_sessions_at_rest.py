"""Sessions at rest: django_session and Redis hold sha256 of the session key, never the cookie's value, so a
stolen row or cache entry signs nobody in; sign-in, sign-out and key rotation still work."""

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache

from mcpsite.sessions import CACHE_KEY_PREFIX, stored_key
from tests.support.personas import ALICE_PASSWORD

SIGNED_IN_PAGE = "/accounts/password_change/"  # 200 for any signed-in user, a redirect to the login page otherwise


def sign_in(client) -> str:
    assert client.login(username="alice", password=ALICE_PASSWORD)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_no_stored_session_key_equals_the_cookie(client, alice):
    cookie = sign_in(client)
    keys = list(Session.objects.values_list("session_key", flat=True))
    assert keys == [stored_key(cookie)] and cookie not in keys
    if settings.CACHE_IS_SHARED:
        assert cache.get(CACHE_KEY_PREFIX + stored_key(cookie)) is not None
        assert cache.get(CACHE_KEY_PREFIX + cookie) is None


def test_a_stored_session_key_presented_as_the_cookie_signs_nobody_in(client, alice):
    cookie = sign_in(client)
    assert client.get(SIGNED_IN_PAGE).status_code == 200
    client.cookies[settings.SESSION_COOKIE_NAME] = Session.objects.get().session_key
    assert client.get(SIGNED_IN_PAGE).status_code == 302
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert client.get(SIGNED_IN_PAGE).status_code == 200


def test_signing_out_deletes_the_session_everywhere(client, alice):
    cookie = sign_in(client)
    client.post("/accounts/logout/")
    assert not Session.objects.exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie  # replayed after sign-out
    assert client.get(SIGNED_IN_PAGE).status_code == 302


def test_signing_in_rotates_the_key_of_an_anonymous_session_and_drops_its_row(client, alice):
    session = client.session  # saved, and its cookie set on the client
    session["before_sign_in"] = True
    session.save()
    anonymous = session.session_key
    response = client.post("/accounts/login/", {"username": "alice", "password": ALICE_PASSWORD})
    assert response.status_code == 302
    signed_in = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in != anonymous
    assert list(Session.objects.values_list("session_key", flat=True)) == [stored_key(signed_in)]


def test_a_session_missing_from_the_cache_is_read_from_the_database(client, alice):
    cookie = sign_in(client)
    cache.delete(CACHE_KEY_PREFIX + stored_key(cookie))  # e.g. Redis restarted
    assert client.get(SIGNED_IN_PAGE).status_code == 200
