"""Tools, resources, prompts and completion through /mcp: the built-in ones and the error results."""

import pytest

from notes.models import Note
from tests.mcp.tools_for_tests import registry


def test_echo_answers_as_the_seed_does(mcp):
    assert mcp.call_tool("echo", {"message": "Hello"}) == {"content": [{"type": "text", "text": "Echo: Hello"}]}


def test_echo_has_the_seed_input_schema(mcp):
    echo = next(tool for tool in mcp.result("tools/list")["tools"] if tool["name"] == "echo")
    assert echo["inputSchema"]["required"] == ["message"]
    assert echo["inputSchema"]["properties"]["message"]["type"] == "string"
    assert echo["description"] == "Echoes back the provided message."


def test_whoami_tells_the_user_client_scopes_and_expiry(mcp, alice, servicenow_client):
    result = mcp.call_tool("whoami")["structuredContent"]
    assert result["username"] == "alice"
    assert result["subject"] == str(alice.pk)
    assert result["client_id"] == servicenow_client.client_id
    assert result["scopes"] == ["mcp:tools"]
    assert result["expires_at"].endswith("Z")


def test_search_notes_reads_the_database_through_the_orm(mcp):
    Note.objects.create(title="Tea", body="Green tea notes")
    Note.objects.create(title="Coffee", body="Espresso")
    hit = Note.objects.create(title="More tea", body="Oolong")
    result = mcp.call_tool("search_notes", {"query": "tea"})["structuredContent"]["result"]
    assert [note["title"] for note in result] == ["More tea", "Tea"]
    assert result[0]["uri"] == f"notes://{hit.pk}"
    limited = mcp.call_tool("search_notes", {"query": "tea", "limit": 1})["structuredContent"]["result"]
    assert [note["title"] for note in limited] == ["More tea"]


def test_a_note_is_readable_through_its_resource_template(mcp):
    note = Note.objects.create(title="Tea", body="Green")
    contents = mcp.result("resources/read", {"uri": f"notes://{note.pk}"})["contents"]
    assert contents == [{"uri": f"notes://{note.pk}", "mimeType": "text/markdown", "text": "# Tea\n\nGreen\n"}]


def test_a_template_variable_of_the_wrong_type_is_resource_not_found(mcp):
    assert mcp.request("resources/read", {"uri": "notes://abc"}).json()["error"]["code"] == -32002


def test_the_prompt_validates_its_arguments(mcp):
    response = mcp.request("prompts/get", {"name": "summarize_notes", "arguments": {}})
    assert response.json()["error"]["code"] == -32602
    assert "topic: Field required" in response.json()["error"]["message"]
    assert mcp.request("prompts/get", {"name": "nope"}).json()["error"]["code"] == -32602


def test_completion_suggests_prompt_arguments_and_template_variables(mcp):
    prompt = mcp.result("completion/complete", {"ref": {"type": "ref/prompt", "name": "summarize_notes"},
                                                "argument": {"name": "style", "value": "d"}})
    assert prompt == {"completion": {"values": ["detailed"], "total": 1, "hasMore": False}}
    note = Note.objects.create(title="x")
    template = mcp.result("completion/complete", {"ref": {"type": "ref/resource", "uri": "notes://{id}"},
                                                  "argument": {"name": "id", "value": str(note.pk)}})
    assert str(note.pk) in template["completion"]["values"]
    bad = mcp.request("completion/complete", {"ref": {"type": "ref/tool"}, "argument": {"name": "a", "value": ""}})
    assert bad.json()["error"]["code"] == -32602


def test_invalid_arguments_are_an_is_error_result_not_a_protocol_error(mcp):
    result = mcp.call_tool("echo", {})
    assert result["isError"] is True
    assert "message: Field required" in result["content"][0]["text"]


def test_a_failing_tool_is_an_is_error_result_with_the_request_id_and_no_internals(mcp, caplog):
    response = mcp.request("tools/call", {"name": "test_explode", "arguments": {}})
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is True
    assert "hunter2" not in response.content.decode()
    assert response["X-Request-ID"] in result["content"][0]["text"]
    assert any(response["X-Request-ID"] in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_tool_error_is_shown_to_the_client(mcp):
    assert mcp.call_tool("test_refuse", {"reason": "closed"}) == {
        "content": [{"type": "text", "text": "Refused: closed"}], "isError": True}


def test_arguments_that_are_not_an_object_are_invalid_params(mcp):
    assert mcp.request("tools/call", {"name": "echo", "arguments": ["x"]}).json()["error"]["code"] == -32602


def test_a_tool_using_the_context_runs_on_the_plain_json_path(mcp):
    result = mcp.call_tool("test_context", {"steps": 3}, headers={"Accept": "application/json"})
    assert result == {"content": [{"type": "text", "text": "3 steps"}]}


def test_a_tool_needing_sampling_on_plain_json_gets_a_clear_is_error_result(mcp):
    result = mcp.call_tool("test_sampling", {"prompt": "hi"}, headers={"Accept": "application/json"})
    assert result["isError"] is True
    assert "sampling/createMessage" in result["content"][0]["text"]


def test_tools_list_pages_with_a_cursor_through_the_endpoint(mcp, settings):
    settings.MCP_PAGE_SIZE = 3
    names, cursor, pages = [], None, 0
    while True:
        result = mcp.result("tools/list", {"cursor": cursor} if cursor else {})
        assert len(result["tools"]) <= 3
        names += [tool["name"] for tool in result["tools"]]
        pages += 1
        cursor = result.get("nextCursor")
        if not cursor:
            break
    assert names == sorted(registry.tools)
    assert pages == -(-len(registry.tools) // 3)


def test_an_invalid_cursor_through_the_endpoint_is_invalid_params(mcp):
    response = mcp.request("tools/list", {"cursor": "not-a-cursor"})
    assert response.json()["error"] == {"code": -32602, "message": "Invalid cursor"}


@pytest.mark.parametrize("name, expected", [
    ("test_add", {"result": 3}),
    ("test_forecast", {"city": "Oslo", "unit": "C", "temperatures": [20.5]}),
])
def test_structured_content_matches_the_output_schema(mcp, name, expected):
    arguments = {"a": 1} if name == "test_add" else {"city": "Oslo"}
    result = mcp.call_tool(name, arguments)
    assert result["structuredContent"] == expected
    tool = next(t for t in mcp.result("tools/list")["tools"] if t["name"] == name)
    assert set(tool["outputSchema"]["required"]) <= set(expected)
