"""Server-to-client messages during a call: the event-stream (SSE) answer to a POST.

A tool logs, reports progress, samples or elicits through its `Context` (mcp_app.context), which
hands the messages to an outbox. When the call's target takes a Context and the client accepts
`text/event-stream`, `answer` runs the call in a thread with an `EventStreamChannel` as its outbox and:
  - if the call finishes before sending anything, returns the final JSON-RPC response (plain JSON);
  - otherwise answers with an event stream: each notification or request is one `message` event,
    the final response is the last event, then the stream ends.
Either way the HTTP answer is written by mcp_app.transport, so the final response has the status it
would have for a client that accepts only JSON. A server-to-client request (`sampling/createMessage`,
`elicitation/create`) gets a random id and waits for the client's answer in a mailbox
(mcp_app.mailboxes), which the client's separate POST, on any worker or host, fills.
"""

from __future__ import annotations

import contextvars
import json
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import connections
from django.http import StreamingHttpResponse

from mcp_app import jsonrpc, transport
from mcp_app.context import Outbox, ToolError, owner_of
from mcp_app.dispatch import Call
from mcp_app.mailboxes import deliver_response, mailboxes

logger = logging.getLogger(__name__)

# Sent on an idle stream so that proxies and load balancers do not cut it.
KEEPALIVE_SECONDS = 15.0
_FINAL = "final"
_MESSAGE = "message"


class ClientRequestError(ToolError):
    """A server-to-client request failed: an error answer, no answer in time, or the stream is gone.
    Raised inside the tool, so the call becomes an `isError` result with this message."""


def accepts_event_stream(accept_header: str) -> bool:
    return "text/event-stream" in (accept_header or "").lower()


def new_request_id() -> str:
    """Unguessable, so that nobody but the client that received the request can answer it."""
    return f"srv-{secrets.token_urlsafe(18)}"


# --- The event stream ------------------------------------------------------------------------------


class EventStreamChannel:
    """The outbox of a call answered as an event stream: its messages, queued by the call's thread and
    written out as SSE events by the response."""

    def __init__(self, owner: str):
        self.owner = owner
        self.events: queue.Queue = queue.Queue()
        self.closed = False  # the client went away: stop sending, fail requests at once

    def notify(self, method: str, params: dict) -> None:
        if not self.closed:
            self.events.put((_MESSAGE, {"jsonrpc": "2.0", "method": method, "params": params}))

    def request(self, method: str, params: dict, timeout: float | None = None) -> dict:
        if self.closed:
            raise ClientRequestError(f"cannot send {method}: the client closed the stream")
        # At most the setting: the mailbox's Redis connection gives up a little after it.
        limit = settings.MCP_CLIENT_REQUEST_TIMEOUT
        timeout = limit if timeout is None else min(timeout, limit)
        request_id = new_request_id()
        boxes = mailboxes()
        try:
            boxes.open(request_id, self.owner, timeout)
            self.events.put((_MESSAGE, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}))
            answer = boxes.wait(request_id, timeout)
        except ClientRequestError:
            raise
        except Exception as exc:  # Redis unreachable
            logger.exception("server request %s %s failed", method, request_id)
            raise ClientRequestError(f"{method} failed: the server could not wait for the answer") from exc
        if answer is None:
            raise ClientRequestError(f"the client did not answer {method} within {timeout:g} s")
        if "error" in answer:
            error = answer.get("error") or {}
            raise ClientRequestError(
                f"the client answered {method} with error {error.get('code')}: {error.get('message')}"
            )
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    def run(self, call: Callable[[Outbox], dict], request_id) -> None:
        final = jsonrpc.error_message(jsonrpc.JsonRpcError(jsonrpc.INTERNAL_ERROR, "Internal error"), request_id)
        try:
            final = call(self)
        except Exception:  # the call turns its own failures into JSON-RPC errors; never lose the stream
            logger.exception("call %s failed inside its event stream", request_id)
        finally:
            connections.close_all()  # this thread's own database connections
            self.events.put((_FINAL, final))

    def frames(self, first: tuple[str, dict]) -> Iterator[bytes]:
        """The SSE body: events until the final response, keep-alive comments while idle."""
        kind, message = first
        try:
            while True:
                yield f"event: message\ndata: {json.dumps(message, separators=(',', ':'))}\n\n".encode()
                if kind == _FINAL:
                    return
                while True:
                    try:
                        kind, message = self.events.get(timeout=KEEPALIVE_SECONDS)
                        break
                    except queue.Empty:
                        yield b": keep-alive\n\n"
        finally:
            self.closed = True


def run_with_channel(call: Callable[[Outbox], dict], request_id, owner: str) -> dict | StreamingHttpResponse:
    """Run `call(outbox)` for a client that accepts an event stream; it returns the final JSON-RPC
    response. Returns that response when the call sent nothing on the way (the caller answers it as
    plain JSON), else a StreamingHttpResponse that carries the call's messages and then its response."""
    channel = EventStreamChannel(owner)
    # The call's thread keeps the request's context variables (the request id in its log lines).
    thread = threading.Thread(target=contextvars.copy_context().run, args=(channel.run, call, request_id),
                              name=f"mcp-call-{request_id}", daemon=True)
    started = time.monotonic()
    thread.start()
    kind, message = channel.events.get()  # the call ends or sends its first message
    if kind == _FINAL:
        thread.join()
        return message
    logger.info("call %s streams its messages (first after %.0f ms)", request_id, (time.monotonic() - started) * 1000)
    return transport.event_stream(channel.frames((kind, message)))


# --- What the view calls ---------------------------------------------------------------------------


def answer(call: Call, accept: str) -> dict | StreamingHttpResponse:
    """The call's answer: the JSON-RPC response, or an event stream already under way when the target
    takes a Context, the client accepts a stream, and the call sent something before its result."""
    if not (call.can_stream and accepts_event_stream(accept)):
        return call.run()
    return run_with_channel(call.run, call.request.id, owner_of(call.identity))


def receive(response, identity) -> bool:
    """A POSTed JSON-RPC response: route it to the call waiting for it (False: nobody waits for it)."""
    delivered = deliver_response(response, owner_of(identity))
    if not delivered:
        logger.warning("a response to %r was posted but no call of this client waits for it", response.id)
    return delivered
