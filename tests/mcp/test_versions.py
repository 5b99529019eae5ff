"""One endpoint, three protocol versions: the 2025 initialize lifecycle and the stateless 2026-07-28 one
(server/discover, Mcp-Method/Mcp-Name headers, resultType, caching hints, its error codes and statuses)."""

import base64

import pytest

from tests.mcp.conftest import ALL_VERSIONS, LEGACY, MODERN, Mcp, message, modern_params

CLIENT_INFO = {"name": "tests", "version": "1"}


@pytest.fixture
def modern(client, token):
    return Mcp(client, token, MODERN)


@pytest.mark.parametrize("requested", ["2025-06-18", "2025-11-25", "2025-03-26"])
def test_initialize_answers_the_requested_version_when_supported(anonymous, requested, settings):
    anonymous.version = None  # the header is not known yet when a client initializes
    params = {"protocolVersion": requested, "capabilities": {}, "clientInfo": CLIENT_INFO}
    result = anonymous.result("initialize", params)
    assert result["protocolVersion"] == requested
    assert result["serverInfo"] == {"name": settings.MCP_SERVER_NAME, "version": settings.VERSION}
    assert result["instructions"] == settings.MCP_INSTRUCTIONS
    assert set(result["capabilities"]) == {"tools", "resources", "prompts", "completions", "logging"}


@pytest.mark.parametrize("requested", ["2024-11-05", "2026-07-28", "1999-01-01", None])
def test_initialize_answers_our_newest_legacy_version_otherwise(anonymous, requested):
    result = anonymous.result("initialize", {"protocolVersion": requested, "capabilities": {}})
    assert result["protocolVersion"] == "2025-11-25"


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_every_version_lists_and_calls_tools(client, token, version):
    mcp = Mcp(client, token, version)
    names = [tool["name"] for tool in mcp.result("tools/list")["tools"]]
    assert {"echo", "whoami", "search_notes"} <= set(names)
    result = mcp.call_tool("echo", {"message": "hello"})
    assert result["content"] == [{"type": "text", "text": "Echo: hello"}]
    assert ("resultType" in result) == (version == MODERN)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_every_version_lists_and_reads_resources_and_gets_prompts(client, token, version):
    mcp = Mcp(client, token, version)
    assert "info://server" in [r["uri"] for r in mcp.result("resources/list")["resources"]]
    assert "notes://{id}" in [t["uriTemplate"] for t in mcp.result("resources/templates/list")["resourceTemplates"]]
    contents = mcp.result("resources/read", {"uri": "info://server"})["contents"]
    assert contents[0]["mimeType"] == "application/json"
    assert "summarize_notes" in [p["name"] for p in mcp.result("prompts/list")["prompts"]]
    prompt = mcp.result("prompts/get", {"name": "summarize_notes", "arguments": {"topic": "tea"}})
    assert "'tea'" in prompt["messages"][0]["content"]["text"]


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_ping_and_logging_set_level_exist_in_the_legacy_versions(client, token, version):
    mcp = Mcp(client, token, version)
    assert mcp.result("ping") == {}
    assert mcp.result("logging/setLevel", {"level": "warning"}) == {}
    assert mcp.request("logging/setLevel", {"level": "loud"}).json()["error"]["code"] == -32602


def test_server_discover_describes_versions_capabilities_and_identity(modern, settings):
    result = modern.result("server/discover")
    assert result["resultType"] == "complete"
    assert result["supportedVersions"][0] == MODERN
    assert set(result["supportedVersions"]) >= set(ALL_VERSIONS)
    assert "tools" in result["capabilities"] and "logging" not in result["capabilities"]
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == settings.MCP_SERVER_NAME
    assert result["instructions"] == settings.MCP_INSTRUCTIONS
    assert result["cacheScope"] == "public" and result["ttlMs"] > 0


def test_server_discover_needs_no_token(client, db):
    assert Mcp(client, None, MODERN).result("server/discover")["resultType"] == "complete"


@pytest.mark.parametrize("method, key", [("tools/list", "tools"), ("prompts/list", "prompts"),
                                         ("resources/list", "resources"),
                                         ("resources/templates/list", "resourceTemplates")])
def test_modern_lists_carry_result_type_ttl_and_cache_scope(modern, method, key):
    result = modern.result(method)
    assert key in result
    assert result["resultType"] == "complete"
    assert isinstance(result["ttlMs"], int) and result["ttlMs"] >= 0
    assert result["cacheScope"] == "public"


def test_modern_resource_reads_are_private_to_the_caller(modern):
    result = modern.result("resources/read", {"uri": "info://server"})
    assert (result["resultType"], result["cacheScope"], result["ttlMs"]) == ("complete", "private", 0)


def test_a_modern_request_whose_mcp_method_header_differs_from_the_body_gets_400_header_mismatch(modern):
    response = modern.request("tools/list", headers={"Mcp-Method": "prompts/list"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32020


def test_a_modern_request_without_mcp_method_gets_400_header_mismatch(modern):
    response = modern.post(message("tools/list", modern_params()))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32020


@pytest.mark.parametrize("method, params", [("tools/call", {"name": "echo", "arguments": {"message": "x"}}),
                                            ("resources/read", {"uri": "info://server"}),
                                            ("prompts/get", {"name": "summarize_notes", "arguments": {"topic": "x"}})])
def test_a_modern_request_whose_mcp_name_differs_or_is_missing_gets_400_header_mismatch(modern, method, params):
    wrong = modern.request(method, params, headers={"Mcp-Name": "something-else"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, -32020)
    missing = modern.post(message(method, modern_params(params)), headers={"Mcp-Method": method})
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, -32020)


def test_a_base64_encoded_mcp_name_is_decoded_before_comparing(modern):
    encoded = "=?base64?" + base64.b64encode(b"echo").decode() + "?="
    result = modern.call_tool("echo", {"message": "b64"}, headers={"Mcp-Name": encoded})
    assert result["content"][0]["text"] == "Echo: b64"


def test_a_modern_request_whose_meta_version_differs_from_the_header_gets_header_mismatch(modern):
    params = modern_params()
    params["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2025-11-25"
    response = modern.post(message("tools/list", params), headers={"Mcp-Method": "tools/list"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, -32020)


def test_a_modern_request_without_the_meta_envelope_gets_400_invalid_params(modern):
    response = modern.post(message("tools/list", {}), headers={"Mcp-Method": "tools/list"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, -32602)


@pytest.mark.parametrize("method", ["initialize", "ping", "logging/setLevel", "tools/frobnicate"])
def test_methods_the_modern_version_does_not_have_get_404_method_not_found(modern, method):
    response = modern.request(method)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32601


def test_an_unknown_tool_is_invalid_params_400_in_the_modern_version_and_200_before(client, token):
    for version, status in [(MODERN, 400), (LEGACY, 200)]:
        response = Mcp(client, token, version).request("tools/call", {"name": "nope", "arguments": {}})
        assert response.status_code == status
        assert response.json()["error"] == {"code": -32602, "message": "Unknown tool: nope"}


def test_resource_not_found_is_32602_in_2026_and_32002_before(client, token):
    for version, code in [(MODERN, -32602), ("2025-11-25", -32002), ("2025-06-18", -32002)]:
        response = Mcp(client, token, version).request("resources/read", {"uri": "notes://999999"})
        assert response.json()["error"]["code"] == code, version
        assert response.json()["error"]["data"] == {"uri": "notes://999999"}


def test_modern_notifications_get_202(modern):
    assert modern.post(message("notifications/cancelled", {"requestId": 1}, id=None)).status_code == 202


def test_modern_tool_results_carry_server_info_and_result_type(modern):
    result = modern.call_tool("echo", {"message": "m"})
    assert result["resultType"] == "complete"
    assert "io.modelcontextprotocol/serverInfo" in result["_meta"]
