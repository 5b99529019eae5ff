"""Attacks on /mcp: forged, stolen-and-revoked or misdirected bearer tokens, hostile JSON-RPC, foreign
Origins. Each is one request; each asserts the standard answer and that the database did not change."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from tests.security.conftest import AccessToken, database_unchanged
from tests.support.tokens import access_token_claims, issue_access_token

pytestmark = pytest.mark.django_db

TOOLS_LIST = {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}}


def post_mcp(http, body, token=None, path="/mcp", **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {"HTTP_ACCEPT": "application/json, text/event-stream", "HTTP_MCP_PROTOCOL_VERSION": "2025-06-18",
               **headers}
    return http.post(path, data, content_type="application/json", **headers)


def assert_token_refused(response):
    assert response.status_code == 401, response.content[:300]
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "resource_metadata=" in response["WWW-Authenticate"]
    assert "result" not in response.json()


def forge(claims: dict, key=None, algorithm="HS256", headers=None) -> str:
    return jwt.encode(claims, key or settings.JWT_SECRET, algorithm=algorithm, headers=headers)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def valid_token(public_client, alice):
    return issue_access_token(public_client, alice)


def test_a_valid_token_lists_the_tools(client, valid_token):
    """The control case: the attacks below fail for the reason they name, not for a broken request."""
    response = post_mcp(client, TOOLS_LIST, valid_token)
    assert response.status_code == 200
    assert "tools" in response.json()["result"]


def test_a_revoked_access_token_is_refused_on_the_next_request(client, valid_token):
    assert post_mcp(client, TOOLS_LIST, valid_token).status_code == 200
    AccessToken.objects.all().delete()  # revocation (DOT deletes the row; the signal drops the cache entry)
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, valid_token))


def test_an_expired_access_token_is_refused(client, public_client, alice):
    token = issue_access_token(public_client, alice, expires_in=-5)
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, token))


def test_the_token_of_a_disabled_client_is_refused_at_once(client, public_client, valid_token):
    assert post_mcp(client, TOOLS_LIST, valid_token).status_code == 200
    public_client.is_enabled = False
    public_client.save()
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, valid_token))


def test_a_token_minted_for_another_audience_is_refused(client, public_client, alice):
    token = issue_access_token(public_client, alice, aud="https://other-resource.example/mcp")
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, token))


def test_a_token_from_another_issuer_is_refused(client, public_client, alice):
    token = issue_access_token(public_client, alice, iss="https://evil-issuer.example")
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, token))


def test_an_unsigned_alg_none_token_is_refused(client, public_client, alice):
    claims = access_token_claims(public_client, alice)
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, token))


def test_an_hs256_token_signed_with_another_key_is_refused(client, public_client, alice):
    token = forge(access_token_claims(public_client, alice), key="another-key-" + "k" * 40)
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, token))


def test_an_rs256_token_is_refused_rs_hs_confusion(client, public_client, alice):
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = forge(access_token_claims(public_client, alice), key=private_key, algorithm="RS256")
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, token))


def test_a_correctly_signed_token_that_was_never_issued_is_refused(client, public_client, alice):
    """Even with the signing key, a JWT not recorded by the token endpoint is not active."""
    token = forge(access_token_claims(public_client, alice))
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, token))


def test_a_token_with_a_tampered_scope_claim_is_refused(client, valid_token):
    header, payload, signature = valid_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "mcp:tools admin"
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, f"{header}.{b64(claims)}.{signature}"))


def test_an_access_token_in_the_query_string_is_refused(client, valid_token):
    with database_unchanged():
        response = post_mcp(client, TOOLS_LIST, path=f"/mcp?access_token={valid_token}")
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_request", "invalid_token")
    assert "WWW-Authenticate" in response


def test_a_refresh_token_is_not_an_access_token(client, valid_token):
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, "opaque-refresh-token-value"))


# --- Hostile JSON-RPC ----------------------------------------------------------------------------------

def jsonrpc_error(response) -> int:
    assert response.status_code < 500
    body = response.json()
    assert body["jsonrpc"] == "2.0" and "result" not in body
    return body["error"]["code"]


def test_a_json_rpc_batch_is_refused(client, valid_token):
    with database_unchanged():
        response = post_mcp(client, [TOOLS_LIST, {**TOOLS_LIST, "id": 8}], valid_token)
    assert jsonrpc_error(response) == -32600


def test_malformed_json_is_a_parse_error(client, valid_token):
    with database_unchanged():
        assert jsonrpc_error(post_mcp(client, b'{"jsonrpc": "2.0", "id": 1, "method": ', valid_token)) == -32700


@pytest.mark.parametrize("message", [
    {"id": 1, "method": "tools/list"},  # no jsonrpc member
    {"jsonrpc": "1.0", "id": 1, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": {"nested": 1}, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 1, "method": 42},
    '"just a string"',
])
def test_malformed_json_rpc_messages_are_invalid_requests(client, valid_token, message):
    with database_unchanged():
        assert jsonrpc_error(post_mcp(client, message, valid_token)) == -32600


def test_deeply_nested_json_is_refused_without_a_server_error(client, valid_token):
    body = '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with database_unchanged():
        assert jsonrpc_error(post_mcp(client, body, valid_token)) in (-32700, -32600)


# Lone UTF-16 surrogates: valid JSON grammar, but no Unicode text; written as the escapes an attacker sends.
SURROGATE_BODIES = {
    "in a tool argument": '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
                          '"params":{"name":"echo","arguments":{"message":"\\ud800"}}}',
    "in an argument name": '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
                           '"params":{"name":"echo","arguments":{"\\udfff":"x"}}}',
    "in a tool name": '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo\\udbff","arguments":{}}}',
    "in the id": '{"jsonrpc":"2.0","id":"\\udc00","method":"tools/list"}',
    "in the method": '{"jsonrpc":"2.0","id":1,"method":"tools/\\ud83d"}',
    "in _meta": '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"progressToken":"\\uDe00"}}}',
    "in a resource URI": '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"notes://\\ud800"}}',
    "in a notification": '{"jsonrpc":"2.0","method":"notifications/\\ud800"}',
    "in the id of a client response": '{"jsonrpc":"2.0","id":"srv-\\ud800","result":{}}',
    "encoded as raw bytes": b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
                            b'"params":{"name":"echo","arguments":{"message":"\xed\xa0\x80"}}}',
}


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/event-stream"])
@pytest.mark.parametrize("where", SURROGATE_BODIES)
def test_a_lone_surrogate_anywhere_in_the_message_is_a_400_parse_error_not_a_server_error(
        client, valid_token, where, accept):
    with database_unchanged():
        response = post_mcp(client, SURROGATE_BODIES[where], valid_token, HTTP_ACCEPT=accept)
    assert response.status_code == 400
    body = response.json()
    assert (body["jsonrpc"], body["id"], body["error"]["code"]) == ("2.0", None, -32700)
    assert "result" not in body


def test_an_escaped_surrogate_pair_is_one_character_and_served(client, valid_token):
    call = ('{"jsonrpc":"2.0","id":1,"method":"tools/call",'
            '"params":{"name":"echo","arguments":{"message":"\\ud83d\\ude00"}}}')
    response = post_mcp(client, call, valid_token)
    assert response.status_code == 200
    assert response.json()["result"]["content"][0]["text"] == "Echo: \U0001f600"


def test_an_oversized_body_is_refused_with_413(client, valid_token):
    body = json.dumps({**TOOLS_LIST, "params": {"padding": "x" * (settings.MCP_MAX_BODY_BYTES + 1)}})
    with database_unchanged():
        response = post_mcp(client, body, valid_token)
    assert response.status_code == 413


def test_a_spoofed_origin_is_refused(client, valid_token):
    with database_unchanged():
        response = post_mcp(client, TOOLS_LIST, valid_token, HTTP_ORIGIN="https://attacker.example")
    assert response.status_code == 403


def test_an_unauthenticated_tools_call_gets_the_challenge_not_the_tool(client):
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "x"}}}
    with database_unchanged():
        response = post_mcp(client, call)
    assert response.status_code == 401
    assert "resource_metadata=" in response["WWW-Authenticate"]


def test_a_token_expiring_now_is_not_accepted_after_expiry(client, public_client, alice):
    token = issue_access_token(public_client, alice, expires_in=1)
    time.sleep(1.5)
    with database_unchanged():
        assert_token_refused(post_mcp(client, TOOLS_LIST, token))
