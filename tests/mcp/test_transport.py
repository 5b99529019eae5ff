"""Streamable HTTP on /mcp: one JSON-RPC message per POST, the statuses and error codes the transport
specification and the issue name, for every error case."""

import json

import pytest

from tests.mcp.conftest import ALL_VERSIONS, LEGACY, MODERN, Mcp, message


def error_of(response):
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    return body["error"]


@pytest.mark.parametrize("method", ["get", "delete", "put", "patch"])
def test_methods_other_than_post_get_405_since_the_server_keeps_no_streams_or_sessions(client, token, method):
    response = getattr(client, method)("/mcp", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_the_endpoint_path_is_exact_and_never_redirects(mcp):
    response = mcp.post(message("ping"), path="/mcp/")
    assert response.status_code == 404
    assert "Location" not in response


def test_a_request_gets_a_single_json_object(mcp):
    response = mcp.request("ping")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_a_request_accepting_only_application_json_is_served(mcp):
    response = mcp.request("tools/call", {"name": "echo", "arguments": {"message": "x"}},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json()["result"]["content"] == [{"type": "text", "text": "Echo: x"}]


def test_a_request_accepting_neither_json_nor_event_stream_gets_406(mcp):
    response = mcp.request("ping", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert error_of(response)["code"] == -32600


def test_a_body_that_is_not_application_json_gets_415(mcp):
    response = mcp.post(message("ping"), content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize("body", [message("notifications/initialized", id=None),
                                  message("notifications/cancelled", {"requestId": 3}, id=None)])
def test_notifications_get_202_with_no_body(mcp, body):
    response = mcp.post(body)
    assert response.status_code == 202
    assert response.content == b""


def test_a_client_response_gets_202_with_no_body(mcp):
    response = mcp.post({"jsonrpc": "2.0", "id": "srv-1", "result": {"action": "decline"}})
    assert response.status_code == 202
    assert response.content == b""


def test_a_batch_array_gets_400_invalid_request(mcp):
    response = mcp.post([message("ping"), message("ping", id=2)])
    assert response.status_code == 400
    assert error_of(response)["code"] == -32600
    assert response.json()["id"] is None


@pytest.mark.parametrize("raw", ['{"jsonrpc": "2.0", "id": 1, "method": "ping"', "not json", "\xff\xfe"])
def test_unparsable_json_gets_400_parse_error(mcp, raw):
    response = mcp.post(None, raw=raw)
    assert response.status_code == 400
    assert error_of(response)["code"] == -32700
    assert response.json()["id"] is None


@pytest.mark.parametrize(
    "body, expected_id",
    [
        ("a string", None),
        ({"id": 1, "method": "ping"}, 1),  # no "jsonrpc"
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": 42}, 1),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),  # MCP ids are never null
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": 7, "method": "ping", "params": [1, 2]}, 7),
        ({"jsonrpc": "2.0", "id": 7}, 7),  # neither request nor response
        ({"jsonrpc": "2.0", "id": 7, "result": {}, "error": {"code": 1, "message": "x"}}, 7),
    ],
)
def test_an_invalid_request_gets_400_invalid_request(mcp, body, expected_id):
    response = mcp.post(body)
    assert response.status_code == 400
    assert error_of(response)["code"] == -32600
    assert response.json()["id"] == expected_id


def test_an_unknown_method_is_method_not_found(mcp):
    response = mcp.request("tools/frobnicate", id="abc")
    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": "abc",
                               "error": {"code": -32601, "message": "Method not found: tools/frobnicate"}}


def test_invalid_params_get_32602(mcp):
    response = mcp.request("tools/call", {"name": 42})
    assert response.status_code == 200
    assert error_of(response)["code"] == -32602


def test_a_server_fault_is_32603_without_internals_and_logged_with_the_request_id(mcp, caplog):
    response = mcp.request("resources/read", {"uri": "test://broken"})
    assert response.status_code == 500
    assert error_of(response) == {"code": -32603, "message": "Internal error"}
    assert b"secret" not in response.content
    request_id = response["X-Request-ID"]
    faults = [record for record in caplog.records if record.levelname == "ERROR"]
    assert any(request_id in record.getMessage() and record.exc_info for record in faults)


def test_a_body_over_the_limit_gets_413_with_a_jsonrpc_error(mcp, settings):
    settings.MCP_MAX_BODY_BYTES = 200
    response = mcp.request("tools/call", {"name": "echo", "arguments": {"message": "x" * 300}})
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == -32600
    assert "200 bytes" in error["message"]


def test_a_body_at_the_limit_is_served(mcp, settings):
    body = json.dumps(message("ping"))
    settings.MCP_MAX_BODY_BYTES = len(body)
    assert mcp.post(None, raw=body).status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost.evil.example"])
def test_a_present_disallowed_origin_gets_403(mcp, origin):
    response = mcp.request("ping", headers={"Origin": origin})
    assert response.status_code == 403
    assert response.json()["id"] is None


def test_configured_issuer_and_loopback_origins_are_allowed(anonymous, settings):
    settings.ALLOWED_ORIGINS = ["https://app.example"]
    settings.OAUTH_ISSUER = "https://mcp.example.com"
    for origin in ["https://app.example", "https://mcp.example.com", "http://localhost:6274", "http://127.0.0.1:3000"]:
        assert anonymous.request("ping", headers={"Origin": origin}).status_code == 200, origin


def test_loopback_origins_are_refused_in_production(mcp, settings):
    settings.IS_PRODUCTION = True
    assert mcp.request("ping", headers={"Origin": "http://localhost:6274"}).status_code == 403


def test_no_origin_header_is_allowed(mcp):
    assert mcp.request("ping").status_code == 200


def test_a_session_id_sent_by_a_client_is_ignored(mcp):
    response = mcp.request("tools/list", headers={"Mcp-Session-Id": "abc"})
    assert response.status_code == 200
    assert "Mcp-Session-Id" not in response


def test_an_unsupported_protocol_version_header_gets_400_with_the_supported_list(mcp):
    response = mcp.request("ping", headers={"MCP-Protocol-Version": "1900-01-01"}, id=9)
    assert response.status_code == 400
    assert response.json() == {"jsonrpc": "2.0", "id": 9, "error": {
        "code": -32022, "message": "Unsupported protocol version",
        "data": {"supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"], "requested": "1900-01-01"}}}


def test_an_absent_protocol_version_header_means_2025_03_26(client, token):
    from tests.mcp.conftest import Mcp

    old_client = Mcp(client, token, version=None)
    result = old_client.result("logging/setLevel", {"level": "info"})  # a legacy-only method
    assert result == {}
    assert "resultType" not in old_client.result("tools/list")


def test_legacy_and_modern_versions_share_the_endpoint(client, token):
    from tests.mcp.conftest import Mcp

    assert Mcp(client, token, LEGACY).result("ping") == {}
    assert Mcp(client, token, MODERN).result("server/discover")["resultType"] == "complete"


@pytest.mark.parametrize("method", ["get", "delete"])
def test_get_and_delete_without_a_token_get_the_401_challenge_of_a_post_without_token(client, db, method):
    post = Mcp(client, None).request("tools/list")
    response = getattr(client, method)("/mcp", headers={"Accept": "application/json, text/event-stream"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == post["WWW-Authenticate"]
    assert response.json() == post.json()


ERROR_CASES = {
    "unknown method": ("no/such/method", {}),
    "invalid params of a Context-taking tool": ("tools/call", {"name": "test_context", "arguments": "x"}),
    "invalid params of a plain tool": ("tools/call", {"name": "test_add", "arguments": ["x"]}),
    "unknown tool": ("tools/call", {"name": "test_nothing_by_this_name", "arguments": {}}),
    "invalid arguments of a Context-taking tool": ("tools/call", {"name": "test_context", "arguments": {"steps": "x"}}),
    "invalid arguments of a plain tool": ("tools/call", {"name": "test_add", "arguments": {"a": "x"}}),
    "resource not found": ("resources/read", {"uri": "test://nothing/here"}),
    "resource not found by a Context-taking template": ("resources/read", {"uri": "test://context/7"}),
    "invalid arguments of a Context-taking template": ("resources/read", {"uri": "test://context/x"}),
}


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("case", ERROR_CASES)
def test_an_error_gets_the_same_status_and_body_whether_the_client_accepts_json_only_or_also_sse(
        client, token, version, case):
    method, params = ERROR_CASES[case]
    mcp = Mcp(client, token, version=version)
    answers = [mcp.request(method, params, headers={"Accept": accept})
               for accept in ("application/json", "application/json, text/event-stream")]
    json_only, with_sse = answers
    assert [answer["Content-Type"] for answer in answers] == ["application/json"] * 2
    assert json_only.status_code == with_sse.status_code
    assert json_only.json() == with_sse.json()
    body = json_only.json()
    assert "error" in body or body["result"]["isError"] is True


def test_a_tool_output_holding_a_lone_surrogate_is_answered_escaped_not_as_a_server_error(mcp):
    response = mcp.request("tools/call", {"name": "test_unencodable", "arguments": {}})
    assert response.status_code == 200
    assert b'"caf\\udce9"' in response.content
    response.content.decode("utf-8")  # the body itself is valid UTF-8
