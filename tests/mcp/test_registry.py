"""The tool registry: schemas from type hints, validation and error results, pagination, resources and
prompts registered the same way. Each test builds its own Registry, as a tool module would fill one."""

import asyncio
from typing import Annotated

from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

import pytest
from django.core.exceptions import ImproperlyConfigured
from pydantic import BaseModel, Field

from mcp_app.context import Context, ServerRequestUnavailable, ToolError
from mcp_app.jsonrpc import JsonRpcError
from mcp_app.registry import Content, Registry, ToolResult, decode_cursor, image, text
from mcp_app.registry import registry as product_registry
from mcp_app.registry import served_registry
from mcpsite import settings as site_settings
from tests.mcp import tools_for_tests


@pytest.fixture
def registry():
    return Registry()


def context():
    return Context(identity=None, protocol_version="2025-11-25", request_id=1)


def test_input_schema_comes_from_the_type_hints(registry):
    @registry.tool
    def book(city: Annotated[str, Field(description="Where")], nights: int = 1, vip: bool | None = None) -> str:
        """Books a room."""
        return city

    descriptor = registry.tools["book"].descriptor()
    assert descriptor["description"] == "Books a room."
    schema = descriptor["inputSchema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["city"]
    assert schema["properties"]["city"] == {"description": "Where", "title": "City", "type": "string"}
    assert schema["properties"]["nights"] == {"default": 1, "title": "Nights", "type": "integer"}
    assert schema["properties"]["vip"]["anyOf"] == [{"type": "boolean"}, {"type": "null"}]
    assert "outputSchema" not in descriptor


def test_a_context_parameter_is_left_out_of_the_schema_and_passed_in(registry):
    seen = []

    @registry.tool
    def job(steps: int, ctx: Context) -> str:
        seen.append(ctx)
        return "ok"

    tool = registry.tools["job"]
    assert list(tool.descriptor()["inputSchema"]["properties"]) == ["steps"]
    assert tool.uses_context
    given = context()
    tool.call({"steps": 1}, given)
    assert seen == [given]


def test_a_model_return_type_gives_an_output_schema_and_structured_content_mirrored_as_text(registry):
    class Weather(BaseModel):
        city: str
        celsius: float

    @registry.tool
    def weather(city: str) -> Weather:
        return Weather(city=city, celsius=21.5)

    tool = registry.tools["weather"]
    assert tool.descriptor()["outputSchema"]["properties"]["celsius"]["type"] == "number"
    result = tool.call({"city": "Oslo"}, context())
    assert result["structuredContent"] == {"city": "Oslo", "celsius": 21.5}
    assert result["content"] == [{"type": "text", "text": '{"city": "Oslo", "celsius": 21.5}'}]


def test_a_typed_dict_return_is_an_object_schema(registry):
    class Point(TypedDict):
        x: int
        y: int

    @registry.tool
    def origin() -> Point:
        return {"x": 0, "y": 0}

    assert registry.tools["origin"].descriptor()["outputSchema"]["required"] == ["x", "y"]
    assert registry.tools["origin"].call({}, context())["structuredContent"] == {"x": 0, "y": 0}


def test_a_non_object_return_type_is_wrapped_in_result(registry):
    @registry.tool
    def count(items: list[str]) -> int:
        return len(items)

    tool = registry.tools["count"]
    assert tool.descriptor()["outputSchema"] == {
        "type": "object", "properties": {"result": {"type": "integer"}}, "required": ["result"]}
    assert tool.call({"items": ["a", "b"]}, context())["structuredContent"] == {"result": 2}


def test_content_returns_pass_through_without_output_schema(registry):
    @registry.tool
    def picture() -> list[Content]:
        return [text("see"), image(b"\x89PNG", "image/png")]

    @registry.tool
    def custom() -> ToolResult:
        return ToolResult(content=[text("partial")], structured_content={"n": 1}, is_error=True)

    assert "outputSchema" not in registry.tools["picture"].descriptor()
    assert registry.tools["picture"].call({}, context())["content"][1] == {
        "type": "image", "data": "iVBORw==", "mimeType": "image/png"}
    assert registry.tools["custom"].call({}, context()) == {
        "content": [{"type": "text", "text": "partial"}], "structuredContent": {"n": 1}, "isError": True}


def test_invalid_arguments_become_an_is_error_result_naming_the_problem(registry):
    @registry.tool
    def add(a: int, b: int) -> int:
        return a + b

    result = registry.tools["add"].call({"a": "one"}, context())
    assert result["isError"] is True
    message = result["content"][0]["text"]
    assert message.startswith("Invalid arguments for tool 'add':")
    assert "a: Input should be a valid integer" in message and "b: Field required" in message


def test_unknown_arguments_are_refused(registry):
    @registry.tool
    def ping_host(host: str) -> str:
        return host

    result = registry.tools["ping_host"].call({"host": "h", "port": 1}, context())
    assert result["isError"] and "port: Extra inputs are not permitted" in result["content"][0]["text"]


def test_an_exception_in_a_tool_is_an_is_error_result_without_internals(registry, caplog):
    @registry.tool
    def fragile() -> str:
        raise ValueError("database password is hunter2")

    result = registry.tools["fragile"].call({}, context())
    assert result["isError"] is True
    assert "hunter2" not in result["content"][0]["text"]
    assert "internal error" in result["content"][0]["text"]
    assert any(record.exc_info for record in caplog.records)


def test_a_tool_error_message_reaches_the_client(registry):
    @registry.tool
    def strict(value: int) -> str:
        raise ToolError(f"{value} is not allowed")

    assert registry.tools["strict"].call({"value": 3}, context()) == {
        "content": [{"type": "text", "text": "3 is not allowed"}], "isError": True}


def test_sampling_on_the_plain_json_path_is_a_clear_is_error_result(registry):
    @registry.tool
    def ask(ctx: Context) -> str:
        return str(ctx.sample([], max_tokens=5))

    result = registry.tools["ask"].call({}, context())
    assert result["isError"] is True
    assert "sampling/createMessage" in result["content"][0]["text"]
    with pytest.raises(ServerRequestUnavailable):
        context().elicit("name?", {"type": "object"})


def test_progress_and_log_on_the_plain_json_path_are_dropped(registry):
    sent = []

    class Recording(Context):
        def send_notification(self, method, params):
            sent.append((method, params))

    Context(identity=None, protocol_version="x", request_id=1, meta={"progressToken": "p"}).report_progress(1, 2)
    recording = Recording(identity=None, protocol_version="x", request_id=1, meta={"progressToken": "p"},
                          log_level="warning")
    recording.report_progress(1, 2, "half")
    recording.log("info", "too low")
    recording.log("error", "shown")
    assert sent == [("notifications/progress", {"progressToken": "p", "progress": 1, "total": 2, "message": "half"}),
                    ("notifications/message", {"level": "error", "data": "shown"})]


def test_async_tools_are_awaited(registry):
    @registry.tool
    async def later(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    assert registry.tools["later"].call({"n": 4}, context())["structuredContent"] == {"result": 8}


def test_registering_a_name_twice_fails_at_import_time(registry):
    registry.tool(lambda: "x", name="same")
    with pytest.raises(ImproperlyConfigured):
        registry.tool(lambda: "y", name="same")


def test_a_registry_that_includes_another_serves_both_and_refuses_a_name_both_hold(registry):
    registry.tool(lambda: "mine", name="mine")
    other = Registry()
    other.tool(lambda: "theirs", name="theirs")
    other.resource("test://theirs")(lambda: "read")
    registry.include(other)
    assert sorted(registry.tools) == ["mine", "theirs"] and "test://theirs" in registry.resources
    assert [tool["name"] for tool in registry.descriptors("tools")] == ["mine", "theirs"]
    with pytest.raises(ImproperlyConfigured):
        registry.include(other)


def test_the_product_registry_is_served_by_default_and_holds_no_test_tools():
    assert site_settings.MCP_REGISTRY == "mcp_app.registry.registry"
    assert {"echo", "whoami"} <= set(product_registry.tools)
    assert not any(name.startswith("test_") for name in product_registry.tools)
    assert served_registry() is tools_for_tests.registry  # what tests/mcp/conftest.py serves instead
    assert {"echo", "test_add"} <= set(tools_for_tests.registry.tools)


def test_a_tool_name_outside_the_allowed_characters_is_refused(registry):
    with pytest.raises(ImproperlyConfigured):
        registry.tool(lambda: "x", name="has space")


def test_annotations_title_and_scope_are_declared_on_the_decorator(registry):
    @registry.tool(title="Delete", annotations={"destructiveHint": True}, scope="mcp:admin")
    def delete(id: int) -> str:
        return "gone"

    descriptor = registry.tools["delete"].descriptor()
    assert (descriptor["title"], descriptor["annotations"]) == ("Delete", {"destructiveHint": True})
    assert registry.tools["delete"].scope == "mcp:admin"


def test_lists_are_paginated_in_a_stable_order_with_opaque_cursors(registry):
    for name in ["delta", "alpha", "echo", "charlie", "bravo"]:
        registry.tool(lambda: "x", name=name)
    seen, cursor = [], None
    while True:
        page = registry.page("tools", cursor, 2)
        seen += [tool["name"] for tool in page["tools"]]
        cursor = page.get("nextCursor")
        if cursor is None:
            break
        assert decode_cursor(cursor) == len(seen)
    assert seen == ["alpha", "bravo", "charlie", "delta", "echo"]


@pytest.mark.parametrize("cursor", ["garbage!", "b2Zmc2V0OjEwMA", 42])
def test_an_invalid_cursor_is_invalid_params(registry, cursor):
    registry.tool(lambda: "x", name="only")
    with pytest.raises(JsonRpcError) as raised:
        registry.page("tools", cursor, 2)
    assert raised.value.code == -32602


def test_the_list_is_computed_once_per_process(registry):
    registry.tool(lambda: "x", name="one")
    first = registry.page("tools", None, 10)
    assert registry.page("tools", None, 10) is first
    registry.tool(lambda: "x", name="two")  # registering invalidates
    assert [t["name"] for t in registry.page("tools", None, 10)["tools"]] == ["one", "two"]


def test_resource_templates_match_uris_and_validate_their_variables(registry):
    @registry.resource_template("orders://{customer}/{order}", mime_type="application/json")
    def order(customer: str, order: int) -> str:
        return f"{customer}:{order}"

    template, variables = registry.find_resource("orders://acme/42")
    assert variables == {"customer": "acme", "order": "42"}
    assert template.function.validate(variables, "x") == {"customer": "acme", "order": 42}
    assert registry.find_resource("orders://acme") is None
    assert registry.find_resource("orders://acme/42/extra") is None


def test_prompt_arguments_come_from_the_signature(registry):
    @registry.prompt(description="Review code")
    def review(code: Annotated[str, Field(description="The code")], language: str = "python") -> str:
        return f"Review this {language}: {code}"

    assert registry.prompts["review"].descriptor() == {
        "name": "review", "description": "Review code",
        "arguments": [{"name": "code", "description": "The code", "required": True},
                      {"name": "language", "required": False}],
    }
    result = registry.prompts["review"].get({"code": "x = 1"}, context())
    assert result["messages"] == [{"role": "user", "content": {"type": "text", "text": "Review this python: x = 1"}}]
