"""Rate limits as an attacker meets them: 429, Retry-After, the standard body, and counts that a forged
X-Forwarded-For cannot reset."""

import pytest
import redis
from django.conf import settings
from django.test import RequestFactory

from common.http import client_address
from tests.security.conftest import AccessToken, database_unchanged
from tests.support.personas import ALICE_PASSWORD, make_client
from tests.support.tokens import issue_access_token

pytestmark = pytest.mark.django_db

TOKEN_FORM = {"grant_type": "authorization_code", "code": "guess", "client_id": "nobody"}


def post_token(client, remote="203.0.113.5", **headers):
    return client.post("/oauth/token", TOKEN_FORM, REMOTE_ADDR=remote, **headers)


def assert_oauth_429(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Cache-Control"] == "no-store"


def test_oauth_endpoints_answer_429_with_retry_after_once_the_address_exceeds_its_limit(client, settings):
    settings.RATE_LIMIT_OAUTH_MAX = 3
    for _ in range(3):
        assert post_token(client).status_code != 429
    with database_unchanged():
        assert_oauth_429(post_token(client))
    assert post_token(client, remote="203.0.113.6").status_code != 429  # another address has its own count


def test_the_organisation_sign_in_endpoints_share_the_oauth_limit_per_address(client, settings):
    settings.RATE_LIMIT_OAUTH_MAX = 2
    for path in ("/accounts/oidc/login/", "/accounts/oidc/callback/"):
        assert client.get(path, REMOTE_ADDR="203.0.113.7").status_code != 429
    response = client.post("/accounts/oidc/backchannel-logout/", {"logout_token": "x"}, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def test_registration_is_limited_like_the_other_oauth_endpoints(client, settings):
    settings.RATE_LIMIT_OAUTH_MAX = 2
    for _ in range(2):
        client.post("/oauth/register", "{}", content_type="application/json", REMOTE_ADDR="203.0.113.7")
    with database_unchanged():
        assert_oauth_429(client.post("/oauth/register", "{}", content_type="application/json",
                                     REMOTE_ADDR="203.0.113.7"))


def test_a_forged_x_forwarded_for_from_an_untrusted_peer_does_not_reset_the_count(client, settings):
    settings.RATE_LIMIT_OAUTH_MAX = 2
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    for n in range(2):
        post_token(client, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert_oauth_429(post_token(client, HTTP_X_FORWARDED_FOR="198.51.100.99"))


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(client, settings):
    settings.RATE_LIMIT_OAUTH_MAX = 2
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for _ in range(2):
        post_token(client, remote="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert_oauth_429(post_token(client, remote="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1"))
    # The client-written left part of the header changes nothing: the proxy's entry (rightmost) counts.
    assert_oauth_429(post_token(client, remote="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1"))
    assert post_token(client, remote="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code != 429


@pytest.mark.parametrize(
    "remote, forwarded, expected",
    [
        ("203.0.113.5", "", "203.0.113.5"),
        ("203.0.113.5", "6.6.6.6", "203.0.113.5"),  # untrusted peer: header ignored
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),  # loopback proxy (the default TRUSTED_PROXIES)
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # left entries are the client's own words
        ("127.0.0.1", "198.51.100.1, 127.0.0.1", "198.51.100.1"),  # a chain of trusted proxies is skipped
        ("127.0.0.1", "not-an-address", "127.0.0.1"),  # garbage: the last address we trust
        ("::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_client_address_trusts_x_forwarded_for_only_from_trusted_proxies(remote, forwarded, expected, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1"]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def mcp_call(client, token=None, remote="203.0.113.5"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post("/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"}, content_type="application/json",
                       HTTP_ACCEPT="application/json, text/event-stream", REMOTE_ADDR=remote, **headers)


def assert_jsonrpc_429(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == -32029


def test_mcp_is_limited_per_oauth_client_whatever_address_it_calls_from(client, settings, alice):
    settings.RATE_LIMIT_MCP_MAX = 2
    acme, other = make_client().client, make_client(name="Other").client
    acme_token, other_token = issue_access_token(acme, alice), issue_access_token(other, alice)
    mcp_call(client, acme_token, remote="203.0.113.1")
    mcp_call(client, acme_token, remote="203.0.113.2")
    assert_jsonrpc_429(mcp_call(client, acme_token, remote="203.0.113.3"))
    assert mcp_call(client, other_token, remote="203.0.113.3").status_code != 429


def test_mcp_without_a_valid_token_is_limited_per_address(client, settings):
    settings.RATE_LIMIT_MCP_MAX = 2
    mcp_call(client)
    mcp_call(client, token="forged.jwt.value")
    assert_jsonrpc_429(mcp_call(client))
    assert mcp_call(client, remote="203.0.113.9").status_code != 429


class RoundTrips:
    """Counts what redis-py sends to the server: one call per command or per pipeline."""

    def __init__(self, monkeypatch):
        self.count = 0
        original = redis.connection.AbstractConnection.send_packed_command

        def counting(connection, command, check_health=True):
            self.count += 1
            return original(connection, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)


@pytest.mark.skipif(not settings.CACHE_IS_SHARED, reason="needs Redis (the shared cache)")
def test_an_authenticated_mcp_request_costs_one_redis_round_trip_for_token_and_rate_limit(
        client, alice, monkeypatch, django_assert_num_queries):
    token = issue_access_token(make_client().client, alice)
    mcp_call(client, token)  # first use: the database confirms the token, the cache remembers it
    trips = RoundTrips(monkeypatch)
    with django_assert_num_queries(0):
        response = mcp_call(client, token)
    assert response.status_code == 200
    assert trips.count == 1


@pytest.mark.skipif(not settings.CACHE_IS_SHARED, reason="needs Redis (the shared cache)")
def test_the_mcp_counter_expires_after_its_window(client, alice):
    """INCR creates the counter; the request that created it gives it its expiry (mcp_app.throttling)."""
    from django.core.cache import cache

    oauth_client = make_client().client
    assert mcp_call(client, issue_access_token(oauth_client, alice)).status_code == 200
    client_id = oauth_client.client_id
    redis_client = cache.client.get_client(write=True)
    keys = redis_client.keys(cache.make_key(f"rl:mcp:client:{client_id}:*"))
    assert len(keys) == 1
    assert 0 < redis_client.ttl(keys[0]) <= settings.RATE_LIMIT_MCP_WINDOW + 5


def test_rate_limits_fail_open_when_the_cache_is_unreachable(client, settings, alice):
    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
    settings.CACHE_IS_SHARED = True
    settings.RATE_LIMIT_OAUTH_MAX = 1
    for _ in range(3):
        assert post_token(client).status_code not in (429, 500)


def login(client, username, password, remote="203.0.113.5"):
    return client.post(settings.LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=remote)


def test_login_brute_force_is_stopped_per_account_even_from_many_addresses(client, settings, alice):
    settings.RATE_LIMIT_LOGIN_MAX = 3
    settings.RATE_LIMIT_LOGIN_ACCOUNT_MAX = 3  # the per-account ceiling (10 x by default, test_sign_in_limits.py)
    for n in range(3):
        assert login(client, "alice", f"guess-{n}", remote=f"198.51.100.{n}").status_code == 200
    with database_unchanged():
        response = login(client, "alice", ALICE_PASSWORD, remote="198.51.100.50")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["Content-Type"].startswith("text/html")
    assert "_auth_user_id" not in client.session


def test_login_brute_force_is_stopped_per_address_across_accounts(client, settings, alice):
    settings.RATE_LIMIT_LOGIN_MAX = 3
    for n in range(3):
        login(client, f"user{n}", "guess")
    assert login(client, "alice", ALICE_PASSWORD).status_code == 429


def test_successful_logins_are_not_counted_as_attempts(client, settings, alice):
    settings.RATE_LIMIT_LOGIN_MAX = 2
    for _ in range(4):
        assert login(client, "alice", ALICE_PASSWORD).status_code == 302
        client.logout()


def test_with_redis_unreachable_mcp_is_answered_from_postgres_and_a_revoked_token_stays_refused(client, settings,
                                                                                                 alice):
    token = issue_access_token(make_client().client, alice)
    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
    settings.CACHE_IS_SHARED = True
    settings.RATE_LIMIT_MCP_MAX = 1
    assert mcp_call(client, token).status_code == 200
    assert mcp_call(client, token).status_code == 200  # not counted while Redis is away: fail open
    AccessToken.objects.all().delete()
    assert mcp_call(client, token).status_code == 401
