"""Tool parameters mirrored as Mcp-Param-* headers (2026-07-28, SEP-2243), and the JSON Schema dialect the
2026-07-28 tools/list names."""

import base64
from typing import Annotated

import pytest
from django.core.exceptions import ImproperlyConfigured

from mcp_app.registry import Registry, header
from tests.mcp.conftest import LEGACY, MODERN, Mcp

DIALECT = "https://json-schema.org/draft/2020-12/schema"


@pytest.fixture
def modern(client, token):
    return Mcp(client, token, version=MODERN)


def routed(mcp, arguments, headers):
    return mcp.request("tools/call", {"name": "test_routed", "arguments": arguments}, headers=headers)


def base64_wrapped(text: str) -> str:
    return f"=?base64?{base64.b64encode(text.encode()).decode()}?="


def test_tools_list_shows_the_designated_parameters(modern):
    tools = {tool["name"]: tool for tool in modern.result("tools/list")["tools"]}
    properties = tools["test_routed"]["inputSchema"]["properties"]

    assert properties["region"]["x-mcp-header"] == "Region"
    assert properties["count"]["x-mcp-header"] == "Count"


@pytest.mark.parametrize("arguments, headers", [
    ({"region": "eu-west"}, {"Mcp-Param-Region": "eu-west"}),
    ({"region": "eu-west"}, {"mcp-param-region": "  eu-west "}),  # names are case-insensitive, OWS trimmed
    ({"region": "Zürich"}, {"Mcp-Param-Region": base64_wrapped("Zürich")}),
    ({"region": "=?base64?abc"}, {"Mcp-Param-Region": "=?base64?abc"}),  # no closing marker: literal
    ({"region": "eu", "count": 3, "loud": True}, {"Mcp-Param-Region": "eu", "Mcp-Param-Count": "3",
                                                   "Mcp-Param-Loud": "true"}),
    ({"region": "eu", "count": None}, {"Mcp-Param-Region": "eu"}),  # a null parameter has no header
])
def test_a_call_whose_headers_repeat_the_designated_arguments_is_served(modern, arguments, headers):
    response = routed(modern, arguments, headers)

    assert response.status_code == 200, response.content
    assert "result" in response.json()


@pytest.mark.parametrize("arguments, headers", [
    ({"region": "eu-west"}, {}),
    ({"region": "eu-west"}, {"Mcp-Param-Region": "us-east"}),
    ({"region": "eu-west"}, {"Mcp-Param-Region": "EU-WEST"}),  # values are case-sensitive
    ({"region": "Hello"}, {"Mcp-Param-Region": "=?base64?SGVsbG8?="}),  # bad padding
    ({"region": "Hello"}, {"Mcp-Param-Region": "=?base64?SGVs!!!bG8=?="}),  # not the alphabet
    ({"region": "eu", "loud": True}, {"Mcp-Param-Region": "eu", "Mcp-Param-Loud": "True"}),
    ({"region": "eu", "count": 3}, {"Mcp-Param-Region": "eu", "Mcp-Param-Count": "three"}),
])
def test_a_call_whose_headers_are_missing_or_differ_is_refused_with_400_header_mismatch(modern, arguments, headers):
    response = routed(modern, arguments, headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32020
    assert response.json()["id"] == 1


def test_older_versions_do_not_expect_the_headers(client, token):
    result = Mcp(client, token, version=LEGACY).call_tool("test_routed", {"region": "eu"})

    assert result["content"][0]["text"] == "eu None False"


@pytest.mark.parametrize("name", ["", "Has Space", "Colon:Name", "Ünicode"])
def test_a_header_name_clients_must_reject_is_refused_at_registration(name):
    with pytest.raises(ImproperlyConfigured):
        @Registry().tool
        def bad(value: Annotated[str, header(name)]) -> str:
            return value


def test_a_header_name_used_twice_or_on_an_object_parameter_is_refused_at_registration():
    with pytest.raises(ImproperlyConfigured, match="twice"):
        @Registry().tool
        def twice(a: Annotated[str, header("Key")], b: Annotated[str, header("key")]) -> str:
            return a + b

    with pytest.raises(ImproperlyConfigured, match="string, number or boolean"):
        @Registry().tool
        def nested(a: Annotated[dict, header("Key")]) -> str:
            return str(a)


# --- JSON Schema dialect ---------------------------------------------------------------------------------
def test_2026_tool_schemas_name_the_json_schema_2020_12_dialect(modern):
    tools = modern.result("tools/list")["tools"]

    assert {tool["inputSchema"].get("$schema") for tool in tools} == {DIALECT}
    assert {tool["outputSchema"]["$schema"] for tool in tools if "outputSchema" in tool} == {DIALECT}


def test_older_versions_get_the_tool_schemas_exactly_as_before(client, token):
    tools = Mcp(client, token, version=LEGACY).result("tools/list")["tools"]

    assert all("$schema" not in tool["inputSchema"] for tool in tools)


def test_a_tool_may_publish_its_own_input_schema_which_is_shown_as_written():
    registry = Registry()
    schema = {"$schema": DIALECT, "type": "object", "$defs": {"a": {"$anchor": "x"}},
              "properties": {"a": {"$ref": "#/$defs/a"}}, "additionalProperties": False}

    @registry.tool(input_schema=schema)
    def own(a: dict | None = None) -> str:
        return "ok"

    assert registry.page("tools", None, 10, dialect=True)["tools"][0]["inputSchema"] == schema
    assert registry.page("tools", None, 10)["tools"][0]["inputSchema"] == schema


def test_tools_list_order_is_by_name_whatever_the_registration_order():
    registry = Registry()
    for name in ("zeta", "alpha", "mid"):
        registry.tool(lambda: "x", name=name, description=name)

    assert [tool["name"] for tool in registry.page("tools", None, 10, dialect=True)["tools"]] == [
        "alpha", "mid", "zeta"]
