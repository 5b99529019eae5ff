"""Mailboxes: where the client's answer to a server-to-client request waits for the tool that asked.

The request (`sampling/createMessage`, `elicitation/create`) goes out on the call's event stream with an
unguessable id; the client answers with a separate POST that another gunicorn worker or host may
receive. That POST calls `deliver_response`, which puts the answer in the mailbox of that id: a Redis
list when the cache is shared (the waiting thread BLPOPs it), process memory otherwise (one process only).
Only the owner that opened a mailbox (the same client acting for the same user) may fill it.
"""

import hmac
import json
import logging
import queue
import threading

from django.conf import settings

from common.redis import blocking_redis_client

logger = logging.getLogger(__name__)



def _key(kind: str, request_id: str) -> str:
    return f"{settings.CACHE_KEY_PREFIX}:mcp:{kind}:{request_id}"


class RedisMailboxes:
    """Shared by every worker and host: the answer may reach any of them."""

    def __init__(self):
        self._client = None
        self._lock = threading.Lock()

    def client(self):
        # Own client, not the cache's: BLPOP blocks longer than the cache's 0.5 s socket timeout.
        with self._lock:
            if self._client is None:
                self._client = blocking_redis_client(socket_timeout=settings.MCP_CLIENT_REQUEST_TIMEOUT + 5)
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
            _mailboxes = RedisMailboxes() if settings.CACHE_IS_SHARED else MemoryMailboxes()
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
