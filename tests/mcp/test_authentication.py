"""Bearer authentication on /mcp: the 401/403 challenges, conditional authentication, revocation on the
next request, and the hot path's cost (no SQL, one Redis round trip)."""

import re
import time

import jwt
import pytest
import redis
import redis.connection
from django.conf import settings as django_settings
from oauth2_provider.models import get_access_token_model

from oauth_app import keys
from oauth_app.tokens import token_checksum
from tests.mcp.conftest import Mcp, message
from tests.support.tokens import issue_access_token

METADATA = 'resource_metadata="http://localhost:8080/.well-known/oauth-protected-resource/mcp"'


@pytest.fixture(autouse=True)
def known_issuer(settings):
    settings.OAUTH_ISSUER = "http://localhost:8080"
    settings.MCP_RESOURCE = "http://localhost:8080/mcp"


def forged(**changes):
    now = int(time.time())
    claims = {"iss": "http://localhost:8080", "sub": "1", "aud": "http://localhost:8080/mcp", "client_id": "c",
              "scope": "mcp:tools", "jti": "j", "iat": now, "exp": now + 600, **changes}
    return jwt.encode(claims, django_settings.JWT_SECRET, algorithm="HS256")


def test_a_request_without_a_token_gets_401_with_the_resource_metadata_challenge(anonymous):
    response = anonymous.request("tools/list")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == f'Bearer {METADATA}, scope="mcp:tools"'
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("bad_token", [
    "not-a-jwt",
    forged(exp=int(time.time()) - 10),
    forged(aud="https://other.example/mcp"),
    forged(iss="https://other.example"),
    jwt.encode({"iss": "http://localhost:8080", "aud": "http://localhost:8080/mcp"},
               "a-wrong-secret-of-thirty-two-bytes-or-more", algorithm="HS256"),
])
def test_an_invalid_token_gets_401_with_error_invalid_token(client, db, bad_token):
    response = Mcp(client, bad_token).request("tools/list")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == f'Bearer {METADATA}, scope="mcp:tools", error="invalid_token"'


def test_a_well_signed_token_without_its_database_row_is_refused(client, db):
    assert Mcp(client, forged()).request("tools/list").status_code == 401


@pytest.mark.parametrize("method", ["initialize", "ping"])
def test_initialize_and_ping_need_no_token(anonymous, method):
    params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    response = anonymous.request(method, params if method == "initialize" else None)
    assert response.status_code == 200
    assert "result" in response.json()


def test_an_empty_public_method_list_makes_every_method_require_a_token(anonymous, settings):
    settings.MCP_PUBLIC_METHODS = []
    assert anonymous.request("initialize", {"protocolVersion": "2025-11-25"}).status_code == 401


def test_notifications_and_responses_need_a_token(anonymous):
    assert anonymous.post(message("notifications/initialized", id=None)).status_code == 401
    assert anonymous.post({"jsonrpc": "2.0", "id": "x", "result": {}}).status_code == 401


def test_a_token_in_the_query_string_is_refused(client, token):
    response = client.post(f"/mcp?access_token={token}", data=message("ping"), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in response["WWW-Authenticate"]


def test_a_token_in_the_query_string_is_refused_even_with_a_header(mcp, token):
    response = mcp.post(message("tools/list"), path=f"/mcp?access_token={token}")
    assert response.status_code == 400


def test_a_tool_needing_more_scope_gets_403_insufficient_scope_with_the_needed_scopes(mcp):
    response = mcp.request("tools/call", {"name": "test_admin_only", "arguments": {}})
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        f'Bearer {METADATA}, scope="mcp:admin mcp:tools", error="insufficient_scope"'
    )
    assert response.json()["error"] == "insufficient_scope"


def test_a_token_with_the_scope_calls_the_tool(client, alice, servicenow_client):
    admin = Mcp(client, issue_access_token(servicenow_client, alice, scope="mcp:tools mcp:admin"))
    assert admin.call_tool("test_admin_only")["content"] == [{"type": "text", "text": "admin"}]


def test_a_revoked_token_is_refused_on_the_next_request(mcp, token):
    assert mcp.request("tools/list").status_code == 200  # now in the active-token cache
    get_access_token_model().objects.get(token_checksum=token_checksum(token)).delete()
    response = mcp.request("tools/list")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_disabled_clients_tokens_are_refused_on_the_next_request(mcp, servicenow_client):
    assert mcp.request("tools/list").status_code == 200
    servicenow_client.is_enabled = False
    servicenow_client.save()
    assert mcp.request("tools/list").status_code == 401


class RedisRoundTrips:
    """Counts what reaches Redis: each write of one or more commands on a connection is one round trip
    (redis-py's commands and pipelines and common.redis.send_commands all end in send_packed_command)."""

    COMMAND_NAME = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")

    def __init__(self, monkeypatch):
        self.trips = []
        send = redis.connection.AbstractConnection.send_packed_command

        def counting_send(connection, command, *args, **options):
            packed = b"".join(command) if isinstance(command, (list, tuple)) else command
            self.trips.append(" ".join(name.decode().upper() for name in self.COMMAND_NAME.findall(packed)))
            return send(connection, command, *args, **options)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)


@pytest.mark.skipif(not django_settings.CACHE_IS_SHARED, reason="the revocation cache needs Redis (make test uses it)")
@pytest.mark.parametrize("algorithm", ["HS256", "ES256", "RS256"])
def test_an_authenticated_tools_call_does_no_sql_and_one_redis_round_trip(
        algorithm, request, client, alice, servicenow_client, monkeypatch, django_assert_num_queries):
    if algorithm != "HS256":  # the key set's version is read in the same pipeline
        request.getfixturevalue("asymmetric_tokens")
        request.getfixturevalue("settings").JWT_ALGORITHM = algorithm
        keys.rotate(algorithm)
    mcp = Mcp(client, issue_access_token(servicenow_client, alice))
    assert mcp.call_tool("echo", {"message": "warm"})  # first use: the token's row is read once, then cached
    redis = RedisRoundTrips(monkeypatch)
    with django_assert_num_queries(0):
        result = mcp.call_tool("echo", {"message": "hot"})
    assert result["content"] == [{"type": "text", "text": "Echo: hot"}]
    # Before the answer: one pipeline (the rate-limit counter, the token's allow-list entry, the access policy's
    # version and, for rotatable keys, the key set's version); after it, the audit record's RPUSH (mcp_app.audit).
    assert len(redis.trips) == 2, redis.trips
    assert redis.trips[0] == "INCR " + " ".join(["GET"] * (2 if algorithm == "HS256" else 3)), redis.trips
    assert redis.trips[1] == "RPUSH"


@pytest.mark.skipif(not django_settings.CACHE_IS_SHARED, reason="the revocation cache needs Redis (make test uses it)")
def test_an_authenticated_tools_list_does_no_sql(mcp, django_assert_num_queries):
    mcp.request("tools/list")
    with django_assert_num_queries(0):
        assert mcp.request("tools/list").status_code == 200


@pytest.mark.skipif(not django_settings.CACHE_IS_SHARED, reason="the revocation cache needs Redis (make test uses it)")
def test_an_es256_token_is_refused_on_the_next_request_once_its_key_is_retired(
        asymmetric_tokens, client, alice, servicenow_client):
    mcp = Mcp(client, issue_access_token(servicenow_client, alice))
    assert mcp.request("tools/list").status_code == 200
    old = keys.key_set().signer[0]
    keys.rotate()
    assert mcp.request("tools/list").status_code == 200  # a rotation alone changes nothing for it
    keys.retire(old)
    assert mcp.request("tools/list").status_code == 401


@pytest.mark.skipif(not django_settings.CACHE_IS_SHARED, reason="the revocation cache needs Redis (make test uses it)")
def test_garbage_kids_cost_no_sql(asymmetric_tokens, client, alice, servicenow_client, django_assert_num_queries):
    mcp = Mcp(client, issue_access_token(servicenow_client, alice))
    assert mcp.request("tools/list").status_code == 200
    header, _, rest = mcp.token.partition(".")
    mcp.token = jwt.utils.base64url_encode(b'{"alg":"ES256","kid":"made-up","typ":"at+jwt"}').decode() + "." + rest
    with django_assert_num_queries(0):
        assert mcp.request("tools/list").status_code == 401
