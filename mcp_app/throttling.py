"""The /mcp rate limit: RATE_LIMIT_MCP_MAX requests per RATE_LIMIT_MCP_WINDOW seconds, a DRF throttle.

A request with a valid token is counted per (OAuth client, user): the token's client_id and sub. One
without a token, or with a token that is refused (invalid, expired, revoked), per address (an IPv6 caller
by its /64): a refused token spends nobody's budget but its sender's. The hot path counts in the same Redis pipeline that reads the token's allow-list
entry (mcp_app.authentication): one round trip for both (django-ratelimit's add-then-incr would cost two
more). The count rides on `request.auth` (a `Usage`), DRF's own slot for what authentication found.
Throttled requests answer 429 with Retry-After and a JSON-RPC error (`retry_later`, registered for /mcp).
When the cache is unreachable nothing is counted: the limit fails open.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.http import JsonResponse
from rest_framework.throttling import BaseThrottle

from common.http import address_group
from common.redis import send_commands

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
# Implementation-defined server errors (JSON-RPC reserves -32000..-32099 for them).
JSONRPC_RATE_LIMITED = -32029
JSONRPC_UNAVAILABLE = -32030


@dataclass(frozen=True)
class Usage:
    """What a verified request has spent of its caller's budget this window (None: not counted)."""

    count: int | None


def retry_later(status: int, retry_after: int, message: str) -> JsonResponse:
    code = JSONRPC_RATE_LIMITED if status == 429 else JSONRPC_UNAVAILABLE
    return JsonResponse({"jsonrpc": "2.0", "id": None, "error": {
        "code": code, "message": message, "data": {"retry_after": retry_after}}}, status=status)


def window_key(value: str, now: int) -> str:
    return f"rl:mcp:{value}:{now // settings.RATE_LIMIT_MCP_WINDOW}"


def caller_key(client_id: str, subject: str, now: int) -> str:
    """Per (client, user): a client shared by a whole organisation gives each person their own budget."""
    return window_key(f"client:{client_id}:user:{subject}", now)


def address_key(request, now: int) -> str:
    return window_key(f"address:{address_group(request)}", now)


def pipeline(counter_key: str | None, other_keys: list[str]) -> tuple[int | None, list[str | None]]:
    """INCR the fixed-window counter and GET other keys: one round trip. Raises when Redis is unreachable.

    The counter gets its expiry on the request that created it (count 1), in a second round trip once per
    window and caller. Should that EXPIRE never arrive (Redis lost in between), the key outlives its window
    but is never counted on again: its name carries the window's number.
    """
    backend = caches["default"]  # once: each `cache.<attribute>` goes through Django's thread-local proxy
    commands = [("INCR", backend.make_key(counter_key))] if counter_key else []
    commands += [("GET", backend.make_key(key)) for key in other_keys]
    client = backend.client.get_client(write=True)
    results = send_commands(client, commands)
    spent = results.pop(0) if counter_key else None
    if spent == 1:
        client.expire(backend.make_key(counter_key), settings.RATE_LIMIT_MCP_WINDOW + 5)
    decode = backend.client.decode
    return spent, [None if value is None else decode(value) for value in results]


def count_in_cache(counter_key: str) -> int | None:
    """The same counter on a non-Redis cache (development): two calls, per process."""
    try:
        cache.add(counter_key, 0, timeout=settings.RATE_LIMIT_MCP_WINDOW + 5)
        return cache.incr(counter_key)
    except Exception:
        return None


def count(counter_key: str | None, other_keys: list[str] = ()) -> tuple[int | None, list[str | None], bool]:
    """(count, the other keys' values, whether the shared cache answered); count None: nothing counted.

    The other keys are read only from the shared cache (Redis), in the counter's round trip.
    """
    other_keys = list(other_keys)
    if not settings.CACHE_IS_SHARED:
        return (count_in_cache(counter_key) if counter_key else None), [None] * len(other_keys), False
    try:
        return (*pipeline(counter_key, other_keys), True)
    except Exception:
        logger.warning("rate limit cache unreachable; /mcp request not counted")
        return None, [None] * len(other_keys), False


def uncount(counter_key: str) -> None:
    """Give back what a request counted before its token was found refused."""
    try:
        cache.decr(counter_key)
    except Exception:
        pass  # gone or unreachable: nothing left to give back


def count_address(request, now: int) -> int | None:
    return count(address_key(request, now))[0]


def over_limit(count_so_far: int | None) -> bool:
    return count_so_far is not None and count_so_far > settings.RATE_LIMIT_MCP_MAX


def seconds_left(now: int) -> int:
    window = settings.RATE_LIMIT_MCP_WINDOW
    return window - now % window


class McpRateThrottle(BaseThrottle):
    """Per caller for verified requests (counted by the authentication), per address for anonymous POSTs."""

    def allow_request(self, request, view):
        if request.method != "POST":
            return True  # GET/DELETE/OPTIONS on /mcp are answered without work worth limiting
        self.now = int(time.time())
        usage = request.auth
        spent = usage.count if isinstance(usage, Usage) else count_address(request, self.now)
        return not over_limit(spent)

    def wait(self):
        return seconds_left(self.now)
