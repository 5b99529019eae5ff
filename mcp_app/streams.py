"""Server-to-client messages during a call: the event-stream (SSE) answer to a POST, and the mailboxes
that carry the client's answers back to the waiting tool.

A tool logs, reports progress, samples or elicits through its `Context` (mcp_app.context), which
hands the messages to an outbox. When the call's target takes a Context and the client accepts
`text/event-stream`, `answer` runs the call in a thread with an `EventStreamChannel` as its outbox and:
  - if the call finishes before sending anything, returns the final JSON-RPC response (plain JSON);
  - otherwise answers with an event stream: each notification or request is one `message` event,
    the final response is the last event, then the stream ends.
A server-to-client request (`sampling/createMessage`, `elicitation/create`) gets a random id; the
client answers it with a separate POST that another gunicorn worker or host may receive. That POST
calls `deliver_response`, which puts the answer in the mailbox of that id: a Redis list when the
cache is shared (the waiting thread BLPOPs it), process memory otherwise (one process only).
"""

from __future__ import annotations

import contextvars
import hmac
import json
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator

import redis
from django.conf import settings
from django.db import connections
from django.http import StreamingHttpResponse

from mcp_app import jsonrpc, transport
from mcp_app.context import Outbox, ToolError
from mcp_app.dispatch import Call

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


# --- Mailboxes: where the client's answer to a server request waits for the tool -----------------


def _key(kind: str, request_id: str) -> str:
    return f"{settings.CACHE_KEY_PREFIX}:mcp:{kind}:{request_id}"


class RedisMailboxes:
    """Shared by every worker and host: the answer may reach any of them."""

    def __init__(self, url: str):
        self.url = url
        self._client = None
        self._lock = threading.Lock()

    def client(self):
        # Own client, not the cache's: BLPOP blocks longer than the cache's 0.5 s socket timeout.
        with self._lock:
            if self._client is None:
                self._client = redis.Redis.from_url(
                    self.url, socket_connect_timeout=1.0, socket_timeout=settings.MCP_CLIENT_REQUEST_TIMEOUT + 5
                )
            return self._client

    def open(self, request_id: str, owner: str, ttl: float) -> None:
        self.client().set(_key("pending", request_id), owner, ex=max(1, int(ttl) + 5))

    def wait(self, request_id: str, timeout: float) -> dict | None:
        client = self.client()
        try:
            popped = client.blpop([_key("reply", request_id)], timeout=max(1, int(round(timeout))))
        finally:
            client.delete(_key("pending", request_id), _key("reply", request_id))
        return json.loads(popped[1]) if popped else None

    def deliver(self, request_id: str, message: dict, owner: str) -> bool:
        client = self.client()
        expected = client.get(_key("pending", request_id))
        if expected is None or not hmac.compare_digest(expected, owner.encode()):
            return False
        reply_key = _key("reply", request_id)
        pipe = client.pipeline()
        pipe.rpush(reply_key, json.dumps(message))
        pipe.expire(reply_key, int(settings.MCP_CLIENT_REQUEST_TIMEOUT) + 5)
        pipe.execute()
        return True


class MemoryMailboxes:
    """One process only (no shared cache): the answer must reach the process that waits for it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._boxes: dict[str, tuple[str, queue.Queue]] = {}

    def open(self, request_id: str, owner: str, ttl: float) -> None:
        with self._lock:
            self._boxes[request_id] = (owner, queue.Queue(maxsize=1))

    def wait(self, request_id: str, timeout: float) -> dict | None:
        with self._lock:
            box = self._boxes.get(request_id)
        try:
            return box[1].get(timeout=timeout) if box else None
        except queue.Empty:
            return None
        finally:
            with self._lock:
                self._boxes.pop(request_id, None)

    def deliver(self, request_id: str, message: dict, owner: str) -> bool:
        with self._lock:
            box = self._boxes.get(request_id)
        if box is None or not hmac.compare_digest(box[0].encode(), owner.encode()):
            return False
        try:
            box[1].put_nowait(message)
        except queue.Full:  # a duplicate answer: the first one counts
            return False
        return True


_mailboxes = None
_mailboxes_lock = threading.Lock()


def mailboxes():
    global _mailboxes
    with _mailboxes_lock:
        if _mailboxes is None:
            _mailboxes = RedisMailboxes(settings.REDIS_URL) if settings.CACHE_IS_SHARED else MemoryMailboxes()
        return _mailboxes


def deliver_response(response, owner: str) -> bool:
    """Route a POSTed JSON-RPC response (a `jsonrpc.Response`) to the call waiting for it; False when no
    call of this owner waits for that id (unknown, expired, already answered, or another client's)."""
    request_id = response.id
    if not isinstance(request_id, str) or not request_id.startswith("srv-"):
        return False
    message = {"id": request_id, "result": response.result} if response.error is None else {
        "id": request_id, "error": response.error}
    try:
        return mailboxes().deliver(request_id, message, owner)
    except Exception:  # Redis unreachable: the tool will time out and say so
        logger.exception("could not deliver the client's answer to %s", request_id)
        return False


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


def owner_of(identity) -> str:
    """Whose answers a stream waits for: the same client acting for the same user (anonymous: empty)."""
    return f"{identity.client_id}:{identity.subject}" if identity is not None else ""


def answer(call: Call, accept: str) -> dict | StreamingHttpResponse:
    """The call's answer: the JSON-RPC response, or an event stream already under way when the target
    takes a Context, the client accepts a stream, and the call sent something before its result."""
    if not (call.streams and accepts_event_stream(accept)):
        return call.run()
    return run_with_channel(call.run, call.request.id, owner_of(call.identity))


def receive(response, identity) -> bool:
    """A POSTed JSON-RPC response: route it to the call waiting for it (False: nobody waits for it)."""
    delivered = deliver_response(response, owner_of(identity))
    if not delivered:
        logger.warning("a response to %r was posted but no call of this client waits for it", response.id)
    return delivered
