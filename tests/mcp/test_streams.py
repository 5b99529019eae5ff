"""The event-stream channel: server-to-client messages during a call, answers routed through mailboxes.

These run on the configured cache (Redis when the suite has one, so the mailboxes are the shared ones);
tests/e2e/test_conformance.py checks the same path across two gunicorn workers.
"""

import json
import threading
import time

import pytest
from django.http import StreamingHttpResponse

from mcp_app import streams
from mcp_app.context import Context
from mcp_app.jsonrpc import Response

OWNER = "client-a:42"


def events(response: StreamingHttpResponse) -> list[dict]:
    """The JSON-RPC messages of an event-stream body, in order."""
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line[len("data: "):]) for line in body.splitlines() if line.startswith("data: ")]


def final(context, text: str) -> dict:
    return {"jsonrpc": "2.0", "id": context.request_id, "result": {"content": [{"type": "text", "text": text}]}}


def make_context(outbox, request_id=7, meta=None):
    return Context(outbox=outbox, identity=None, protocol_version="2025-11-25", request_id=request_id, meta=meta or {})


def answer_when_asked(response: StreamingHttpResponse, reply, owner: str = OWNER) -> list[dict]:
    """Reads the stream like a client; answers each server request with `reply(request)` in another thread,
    as a separate POST would. Returns every message read."""
    seen = []
    body = ""
    for chunk in response.streaming_content:
        body += chunk.decode()
        while "\n\n" in body:
            event, body = body.split("\n\n", 1)
            data = [line[6:] for line in event.splitlines() if line.startswith("data: ")]
            if not data:
                continue
            message = json.loads(data[0])
            seen.append(message)
            if "method" in message and "id" in message:
                answer = reply(message)
                threading.Thread(target=streams.deliver_response, args=(answer, owner)).start()
    return seen


def test_a_call_that_sends_nothing_is_answered_as_plain_json():
    def call(outbox):
        return final(make_context(outbox), "quiet")

    answered = streams.run_with_channel(call, 7, OWNER)

    assert answered == {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": "quiet"}]}}


def test_notifications_go_out_as_events_before_the_final_response():
    def call(outbox):
        context = make_context(outbox, meta={"progressToken": "p-1"})
        context.log("info", "started")
        context.report_progress(50, 100)
        return final(context, "done")

    response = streams.run_with_channel(call, 7, OWNER)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/event-stream"
    assert events(response) == [
        {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "started"}},
        {"jsonrpc": "2.0", "method": "notifications/progress",
         "params": {"progressToken": "p-1", "progress": 50, "total": 100}},
        {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": "done"}]}},
    ]


def test_the_clients_answer_to_an_elicitation_reaches_the_waiting_tool():
    def call(outbox):
        context = make_context(outbox)
        answer = context.elicit("Who are you?", {"type": "object", "properties": {"name": {"type": "string"}}})
        return final(context, f"hello {answer['content']['name']}")

    response = streams.run_with_channel(call, 7, OWNER)
    seen = answer_when_asked(response, lambda request: Response(request["id"], {"action": "accept",
                                                                                "content": {"name": "alice"}}))

    request = seen[0]
    assert request["method"] == "elicitation/create"
    assert request["id"].startswith("srv-")
    assert seen[-1]["result"]["content"][0]["text"] == "hello alice"


def test_an_error_answer_fails_the_tool_with_the_clients_message():
    def call(outbox):
        context = make_context(outbox)
        try:
            context.sample([{"role": "user", "content": {"type": "text", "text": "hi"}}], 10)
        except streams.ClientRequestError as error:
            return final(context, str(error))
        return final(context, "no error")

    response = streams.run_with_channel(call, 7, OWNER)
    seen = answer_when_asked(response, lambda request: Response(request["id"], None,
                                                                {"code": -32601, "message": "Sampling not supported"}))

    assert seen[-1]["result"]["content"][0]["text"] == (
        "the client answered sampling/createMessage with error -32601: Sampling not supported")


def test_an_answer_from_another_client_is_refused_and_the_tool_times_out():
    def call(outbox):
        context = make_context(outbox)
        try:
            context.send_request("elicitation/create", {"message": "?", "requestedSchema": {}}, timeout=1)
        except streams.ClientRequestError as error:
            return final(context, str(error))
        return final(context, "answered")

    delivered = []

    def reply(request):
        answer = Response(request["id"], {"action": "accept"})
        delivered.append(streams.deliver_response(answer, "client-b:99"))
        return answer  # answer_when_asked delivers it again, still as client-b

    response = streams.run_with_channel(call, 7, OWNER)
    started = time.monotonic()
    seen = answer_when_asked(response, reply, owner="client-b:99")

    assert delivered == [False]
    assert seen[-1]["result"]["content"][0]["text"] == "the client did not answer elicitation/create within 1 s"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("request_id", [7, "no-such-request", "srv-unknown"])
def test_a_response_nobody_waits_for_is_not_delivered(request_id):
    assert streams.deliver_response(Response(request_id, {}), OWNER) is False


def test_a_failing_call_still_ends_its_stream_with_an_internal_error():
    def call(outbox):
        make_context(outbox).log("info", "about to fail")
        raise RuntimeError("secret internals")

    response = streams.run_with_channel(call, 7, OWNER)

    assert events(response)[-1] == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32603, "message": "Internal error"}}


def test_the_call_thread_logs_with_the_request_id_of_the_request_it_serves():
    from common.logging import current_request_id, request_id_var

    def call(outbox):
        context = make_context(outbox)
        context.log("info", current_request_id())
        return final(context, current_request_id())

    token = request_id_var.set("req-123")
    try:
        response = streams.run_with_channel(call, 7, OWNER)
    finally:
        request_id_var.reset(token)

    assert events(response)[0]["params"]["data"] == "req-123"
