"""2026-07-28 multi round-trip requests (SEP-2322): questions become an `input_required` result, the client
retries with `inputResponses`, and the signed `requestState` carries earlier rounds' answers."""

import json

import pytest
from django.core import signing

from mcp_app.context import Context
from mcp_app.dispatch import Call
from mcp_app.input_required import SIGNING_SALT
from mcp_app.jsonrpc import Request
from mcp_app.registry import Registry
from tests.mcp.conftest import LEGACY, MODERN, Mcp, message
from tests.support.tokens import issue_access_token

ALL_CAPABILITIES = {"elicitation": {}, "sampling": {}, "roots": {}}
NAME_ANSWER = {"action": "accept", "content": {"name": "Alice"}}
MODEL_ANSWER = {"role": "assistant", "content": {"type": "text", "text": "42"}, "model": "m", "stopReason": "endTurn"}


@pytest.fixture
def modern(client, token):
    return Mcp(client, token, version=MODERN)


def call(mcp, name="test_interview", arguments=None, capabilities=None, level=None, **params):
    """A 2026-07-28 tools/call with the given client capabilities (default: all) and extra params."""
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": ALL_CAPABILITIES if capabilities is None else capabilities}
    if level:
        meta["io.modelcontextprotocol/logLevel"] = level
    body = message("tools/call", {"name": name, "arguments": {"topic": "life"} if arguments is None else arguments,
                                  "_meta": meta, **params})
    return mcp.post(body, headers={"Mcp-Method": "tools/call", "Mcp-Name": name})


def test_a_tool_that_elicits_answers_input_required_with_the_request_and_a_request_state(modern):
    response = call(modern)

    assert response.status_code == 200
    result = response.json()["result"]
    assert result["resultType"] == "input_required"
    assert result["inputRequests"] == {"who": {"method": "elicitation/create", "params": {
        "message": "Who asks about life?", "requestedSchema": {
            "type": "object", "properties": {"name": {"type": "string"}}}}}}
    assert isinstance(result["requestState"], str)


def test_each_retry_carries_the_answers_so_far_and_the_last_one_completes_the_call(modern):
    first = call(modern).json()["result"]
    second = call(modern, inputResponses={"who": NAME_ANSWER}, requestState=first["requestState"]).json()["result"]

    assert second["resultType"] == "input_required"
    assert list(second["inputRequests"]) == ["sampling-1"]
    assert second["inputRequests"]["sampling-1"]["method"] == "sampling/createMessage"
    assert second["requestState"] != first["requestState"]
    # The third round sends only the model's answer: the name comes back from the state.
    third = call(modern, inputResponses={"sampling-1": MODEL_ANSWER}, requestState=second["requestState"])
    assert third.json()["result"]["resultType"] == "complete"
    assert third.json()["result"]["content"][0]["text"] == "Alice asked about life: 42"


def test_answers_the_client_sends_without_a_state_are_used_and_unknown_keys_are_ignored(modern):
    result = call(modern, inputResponses={"who": NAME_ANSWER, "sampling-1": MODEL_ANSWER,
                                          "surprise": {"action": "accept"}}).json()["result"]

    assert result["resultType"] == "complete"
    assert result["content"][0]["text"] == "Alice asked about life: 42"


def test_a_tampered_request_state_is_refused_with_invalid_params(modern):
    first = call(modern).json()["result"]

    response = call(modern, inputResponses={"who": NAME_ANSWER}, requestState=first["requestState"] + "-TAMPERED")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602
    assert "integrity" in response.json()["error"]["message"]


def test_a_request_state_forged_without_the_key_is_refused(modern):
    forged = signing.dumps({"b": "anything", "a": {"who": NAME_ANSWER}}, key="not-our-secret", salt=SIGNING_SALT)

    response = call(modern, requestState=forged)

    assert response.json()["error"]["code"] == -32602


def test_a_request_state_is_valid_only_for_the_arguments_it_was_issued_for(modern):
    first = call(modern).json()["result"]

    response = call(modern, arguments={"topic": "money"}, inputResponses={"who": NAME_ANSWER},
                    requestState=first["requestState"])

    assert response.status_code == 400
    assert "another request" in response.json()["error"]["message"]


def test_another_users_request_state_is_refused(client, modern, servicenow_client, bob):
    first = call(modern).json()["result"]
    as_bob = Mcp(client, issue_access_token(servicenow_client, bob), version=MODERN)

    response = call(as_bob, inputResponses={"who": NAME_ANSWER}, requestState=first["requestState"])

    assert response.json()["error"]["code"] == -32602


@pytest.mark.parametrize("responses", [None, [], "yes", {"who": 12345}])
def test_input_responses_that_are_not_result_objects_are_invalid_params(modern, responses):
    response = call(modern, inputResponses=responses)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602


def test_a_question_the_client_did_not_declare_it_can_answer_is_missing_capability_400(modern):
    response = call(modern, capabilities={"sampling": {}})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32021
    assert response.json()["error"]["data"] == {"requiredCapabilities": {"elicitation": {}}}


def test_a_2026_response_stream_carries_notifications_but_never_a_request(modern):
    # With a progress token the call streams its progress, then the input_required result.
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities":
            ALL_CAPABILITIES, "progressToken": "p1"}
    body = message("tools/call", {"name": "test_interview", "arguments": {"topic": "life"}, "_meta": meta,
                                  "inputResponses": {"who": NAME_ANSWER}})
    response = modern.post(body, headers={"Mcp-Method": "tools/call", "Mcp-Name": "test_interview"})

    assert response["Content-Type"].startswith("text/event-stream")
    body = b"".join(response.streaming_content).decode()
    messages = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert [m.get("method") for m in messages] == ["notifications/progress", None]
    assert messages[-1]["result"]["resultType"] == "input_required"


def test_a_prompt_may_ask_too():
    registry = Registry()

    @registry.prompt(name="needs_context")
    def needs_context(ctx: Context) -> str:
        return f"About {ctx.elicit('Which context?', {'type': 'object'}, key='ctx')['content']['c']}"

    params = {"name": "needs_context", "_meta": {"io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}}
    asked = Call(Request(1, "prompts/get", params), MODERN, None, registry=registry).run()
    answered = Call(Request(2, "prompts/get", {**params, "inputResponses": {"ctx": {
        "action": "accept", "content": {"c": "tests"}}}}), MODERN, None, registry=registry).run()

    assert asked["result"]["resultType"] == "input_required"
    assert answered["result"]["messages"][0]["content"]["text"] == "About tests"


def test_older_versions_still_refuse_to_ask_on_a_plain_json_answer(client, token):
    legacy = Mcp(client, token, version=LEGACY)

    result = legacy.call_tool("test_interview", {"topic": "life"}, headers={"Accept": "application/json"})

    assert result["isError"] is True
    assert "elicitation/create" in result["content"][0]["text"]
    assert "resultType" not in result
