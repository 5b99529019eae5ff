"""Fuzzing: hypothesis properties of JSON-RPC handling and registration metadata validation, and
schemathesis against the OpenAPI document gunicorn publishes is in tests/e2e/test_api_fuzz.py."""

import json
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from mcp_app import jsonrpc
from oauth_app.models import Client
from oauth_app.policies import RegistrationError, client_metadata_from_dict
from oauth_app.redirect_uris import is_loopback_host
from tests.security.conftest import issue_initial_access_token
from tests.support.personas import make_client
from tests.support.tokens import issue_access_token

FUZZ = hypothesis_settings(max_examples=150, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HTTP_FUZZ = hypothesis_settings(max_examples=60, deadline=None,
                                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
methods = st.sampled_from(["initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read",
                           "prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
                           "notifications/initialized", "server/discover", "no/such/method"]) | st.text(max_size=30)
ids = st.integers(min_value=-2**53, max_value=2**53) | st.text(max_size=20) | st.none() | st.booleans() | st.floats()
messages = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "2.0", "1.0", 2])},
    optional={"id": ids, "method": methods, "params": json_values | st.dictionaries(st.text(max_size=10), json_values),
              "result": json_values, "error": json_values},
)


# --- JSON-RPC --------------------------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_parse_to_a_message_or_a_standard_json_rpc_error(body):
    try:
        message = jsonrpc.parse_message(body)
    except jsonrpc.JsonRpcError as error:
        assert error.code in (jsonrpc.PARSE_ERROR, jsonrpc.INVALID_REQUEST)
    else:
        assert isinstance(message, (jsonrpc.Request, jsonrpc.Notification, jsonrpc.Response))


@FUZZ
@given(json_values | messages)
def test_any_json_value_parses_to_a_well_formed_message_or_invalid_request(value):
    try:
        message = jsonrpc.parse_message(json.dumps(value).encode())
    except jsonrpc.JsonRpcError as error:
        assert error.code == jsonrpc.INVALID_REQUEST
        return
    assert isinstance(value, dict) and value.get("jsonrpc") == "2.0"
    if isinstance(message, jsonrpc.Request):
        assert jsonrpc.is_valid_id(message.id) and isinstance(message.method, str)


any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates included


@FUZZ
@given(st.dictionaries(any_text, any_text, max_size=3), any_text)
def test_a_string_with_a_lone_surrogate_is_a_parse_error_and_any_other_string_parses(arguments, name):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": name, "arguments": arguments}})  # ASCII: surrogates as \u escapes
    unencodable = any(jsonrpc.SURROGATE.search(value) for value in [name, *arguments, *arguments.values()])
    try:
        message = jsonrpc.parse_message(body.encode())
    except jsonrpc.JsonRpcError as error:
        assert unencodable and error.code == jsonrpc.PARSE_ERROR
    else:
        assert not unencodable and message.params == {"name": name, "arguments": arguments}


@pytest.fixture
def mcp_token(db, settings):
    settings.RATE_LIMIT_MCP_MAX = 100_000
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("fuzzer", password="fuzzer-password-123456")
    return issue_access_token(make_client().client, user)


@HTTP_FUZZ
@given(message=messages)
def test_any_message_posted_to_mcp_gets_a_json_rpc_answer_never_a_server_error(client, mcp_token, message):
    response = client.post("/mcp", json.dumps(message), content_type="application/json",
                           HTTP_ACCEPT="application/json, text/event-stream", HTTP_AUTHORIZATION=f"Bearer {mcp_token}")
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code == 202:
        return
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert body.get("jsonrpc") == "2.0" or "error" in body  # JSON-RPC, or an RFC 6750 challenge
        answered_request = "method" in message and jsonrpc.is_valid_id(message.get("id"))
        if answered_request and response.status_code == 200:
            assert body["id"] == message["id"]


# --- Registration metadata -------------------------------------------------------------------------

schemes = st.sampled_from(["https", "http", "javascript", "data", "file", "cursor", "ftp", "vbscript", ""])
hosts = st.sampled_from(["agent.example.com", "127.0.0.1", "localhost", "[::1]", "*.example.com", "10.0.0.1",
                         "evil.com@good.com", "", "127.0.0.1.evil.com"])
redirect_uris = st.builds(lambda scheme, host, path: f"{scheme}://{host}{path}" if scheme else f"//{host}{path}",
                          schemes, hosts, st.sampled_from(["/cb", "/*", "#frag", "/cb?x=1", "", ":99999/cb"])) \
    | st.text(max_size=40)
metadata = st.fixed_dictionaries({}, optional={
    "redirect_uris": st.lists(redirect_uris, max_size=3) | json_values,
    "client_name": st.text(max_size=300) | json_values,
    "token_endpoint_auth_method": st.sampled_from(["none", "client_secret_basic", "client_secret_post",
                                                   "private_key_jwt"]) | json_values,
    "grant_types": st.lists(st.sampled_from(["authorization_code", "refresh_token", "implicit", "password"]),
                            max_size=3) | json_values,
    "response_types": st.lists(st.sampled_from(["code", "token"]), max_size=2) | json_values,
    "scope": st.sampled_from(["mcp:tools", "admin", ""]) | json_values,
}) | json_values


def acceptable_redirect_uri(uri: str) -> bool:
    parts = urlsplit(uri)
    if "*" in uri or "#" in uri or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme == "http":
        return bool(parts.hostname) and is_loopback_host(parts.hostname)
    return parts.scheme == "cursor"


@FUZZ
@given(metadata)
def test_registration_metadata_is_accepted_only_when_every_redirect_uri_is_safe(data):
    try:
        validated = client_metadata_from_dict(data)
    except RegistrationError as error:
        assert error.error in ("invalid_client_metadata", "invalid_redirect_uri")
        assert error.status == 400
        return
    assert validated.redirect_uris and all(acceptable_redirect_uri(uri) for uri in validated.redirect_uris)
    assert validated.token_endpoint_auth_method in ("none", "client_secret_basic", "client_secret_post")
    assert "authorization_code" in validated.grant_types


@HTTP_FUZZ
@given(data=metadata)
def test_registration_over_http_answers_201_or_a_standard_error_and_never_half_registers(client, db, settings, data):
    settings.RATE_LIMIT_OAUTH_MAX = 100_000
    token = issue_initial_access_token()
    before = Client.objects.count()
    response = client.post("/oauth/register", json.dumps(data), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code in (201, 400), (response.status_code, response.content[:300])
    if response.status_code == 400:
        assert response.json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")
        assert Client.objects.count() == before
    else:
        assert Client.objects.filter(client_id=response.json()["client_id"]).exists()
