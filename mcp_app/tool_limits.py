"""Per-tool rate limits: `@tool(rate_limit="10/m")` counts calls per (tool, client, user) in a fixed window
on the shared cache, so every worker and host counts the same calls. Over the limit, the call answers a
tool error the model can act on (`isError`, the wait in its text and in `_meta.retryAfter`) instead of
failing the request. The cache unreachable: the limit fails open, like the /mcp request limit."""

import logging
import time

from django.conf import settings
from django.core.cache import cache

from mcp_app.registry.content import error_result

logger = logging.getLogger(__name__)

RETRY_AFTER_META_KEY = "retryAfter"


def count(key: str, window: int) -> int | None:
    """INCR the window's counter (its expiry set by the call that created it); None when unreachable."""
    try:
        if not settings.CACHE_IS_SHARED:
            cache.add(key, 0, timeout=window + 5)
            return cache.incr(key)
        client = cache.client.get_client(write=True)
        raw_key = cache.make_key(key)
        value = client.incr(raw_key)
        if value == 1:
            client.expire(raw_key, window + 5)
        return value
    except Exception:
        logger.warning("tool rate limit cache unreachable; call not counted")
        return None


def refusal(tool, identity) -> dict | None:
    """The tool error to answer instead of calling the tool, or None when the call is within its limit."""
    limit = tool.rate_limit
    if limit is None:
        return None
    now = int(time.time())
    who = f"{identity.client_id}:{identity.subject}" if identity is not None else "-"
    calls = count(f"rl:tool:{tool.name}:{who}:{now // limit.seconds}", limit.seconds)
    if calls is None or calls <= limit.count:
        return None
    retry_after = limit.seconds - now % limit.seconds
    result = error_result(f"Rate limit: tool '{tool.name}' allows {limit.count} calls per {limit.seconds} s "
                          f"for this client and user. Retry after {retry_after} seconds.")
    result["_meta"] = {RETRY_AFTER_META_KEY: retry_after}
    return result
