"""Rate limits keyed to who really calls: /mcp per (client, user), a refused token spending nobody's budget
but its sender's address's, and every per-address limit counting an IPv6 caller by its /64."""

import pytest
from django.test import RequestFactory

from common.http import address_group
from tests.security.conftest import AccessToken
from tests.support.personas import ALICE_PASSWORD, make_client
from tests.support.tokens import issue_access_token
from tests.security.test_rate_limits import assert_jsonrpc_429, assert_oauth_429, login, mcp_call, post_token

pytestmark = pytest.mark.django_db


def revoked_token(oauth_client, user) -> str:
    """A token that was valid (the allow-list remembers it as active) and is then revoked."""
    token = issue_access_token(oauth_client, user)
    AccessToken.objects.filter(user=user, application=oauth_client).delete()  # the signal revokes it in the cache
    return token


def test_mcp_gives_each_user_of_a_shared_client_their_own_budget(client, settings, alice, bob):
    settings.RATE_LIMIT_MCP_MAX = 2
    servicenow = make_client(name="ServiceNow instance").client
    alice_token, bob_token = issue_access_token(servicenow, alice), issue_access_token(servicenow, bob)
    for n in range(2):
        assert mcp_call(client, alice_token, remote=f"203.0.113.{n}").status_code == 200
    assert_jsonrpc_429(mcp_call(client, alice_token, remote="203.0.113.9"))
    assert mcp_call(client, bob_token, remote="203.0.113.9").status_code == 200


def test_a_revoked_token_is_refused_401_without_spending_its_users_budget(client, settings, alice):
    settings.RATE_LIMIT_MCP_MAX = 2
    acme = make_client().client
    stolen = revoked_token(acme, alice)
    for n in range(4):  # from many addresses, so no address reaches its own limit
        assert mcp_call(client, stolen, remote=f"198.51.100.{n}").status_code == 401
    token = issue_access_token(acme, alice)
    assert mcp_call(client, token).status_code == 200
    assert mcp_call(client, token).status_code == 200


def test_a_flood_of_refused_tokens_is_limited_per_address(client, settings, alice):
    settings.RATE_LIMIT_MCP_MAX = 2
    stolen = revoked_token(make_client().client, alice)
    for token in (stolen, "forged.jwt.value"):
        assert mcp_call(client, token, remote="198.51.100.7").status_code == 401
    assert_jsonrpc_429(mcp_call(client, stolen, remote="198.51.100.7"))
    assert mcp_call(client, stolen, remote="198.51.100.8").status_code == 401


@pytest.mark.parametrize("remote, group", [
    ("203.0.113.5", "203.0.113.5"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.5", "203.0.113.5"),  # an IPv4 client seen through a dual-stack socket
    ("not-an-address", "-"),
])
def test_per_address_limits_group_ipv6_by_its_64_and_ipv4_by_address(remote, group):
    assert address_group(RequestFactory().get("/", REMOTE_ADDR=remote)) == group


def test_mcp_counts_every_address_of_an_ipv6_64_as_one_caller(client, settings):
    settings.RATE_LIMIT_MCP_MAX = 2
    mcp_call(client, remote="2001:db8:1:2::1")
    mcp_call(client, remote="2001:db8:1:2::2")
    assert_jsonrpc_429(mcp_call(client, remote="2001:db8:1:2:ffff::3"))
    assert mcp_call(client, remote="2001:db8:1:3::1").status_code != 429  # the next /64 is someone else


def test_oauth_endpoints_count_every_address_of_an_ipv6_64_as_one_caller(client, settings):
    settings.RATE_LIMIT_OAUTH_MAX = 2
    post_token(client, remote="2001:db8:5:6::1")
    post_token(client, remote="2001:db8:5:6::2")
    assert_oauth_429(post_token(client, remote="2001:db8:5:6:ffff::3"))
    assert post_token(client, remote="2001:db8:5:7::1").status_code != 429


def test_sign_in_counts_every_address_of_an_ipv6_64_as_one_place(client, settings, alice):
    settings.RATE_LIMIT_LOGIN_MAX = 2
    login(client, "bob", "guess", remote="2001:db8:9:9::1")
    login(client, "carol", "guess", remote="2001:db8:9:9::2")
    assert login(client, "alice", ALICE_PASSWORD, remote="2001:db8:9:9:ffff::3").status_code == 429
    assert login(client, "alice", ALICE_PASSWORD, remote="2001:db8:9:a::1").status_code == 302
