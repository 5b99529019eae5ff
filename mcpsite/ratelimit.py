"""Rate limits on the shared cache, so every worker and host counts the same requests.

- OAuth endpoints (`/oauth/...`): RATE_LIMIT_OAUTH_MAX requests per RATE_LIMIT_OAUTH_WINDOW seconds per
  client address (django-ratelimit).
- Login form: RATE_LIMIT_LOGIN_MAX failed attempts per RATE_LIMIT_LOGIN_WINDOW, counted per account and per
  address (django-ratelimit); a successful login is never counted, so people who type well are never locked out.
- `/mcp`: RATE_LIMIT_MCP_MAX requests per RATE_LIMIT_MCP_WINDOW per OAuth client (its verified `client_id`),
  per address when there is no valid token. This is the hot path, so the counter is incremented in the same
  Redis pipeline that reads the token's allow-list entry: one round trip for both (django-ratelimit's
  add-then-incr would cost two more). The verified identity is left on the request (`request.bearer_identity`)
  for the /mcp authentication to use instead of verifying the token again.

A rejected request gets 429 with Retry-After and the body its caller understands: OAuth error JSON, a
JSON-RPC error, or a page for the login form. When the cache is unreachable the limits fail open (requests
are served, a warning is logged): availability matters more than counting during a Redis outage.
"""

import functools
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.dispatch import Signal
from django.http import HttpResponse, JsonResponse
from django_ratelimit.core import get_usage

from mcp_app.policy import policy_version_key, remember_prefetched_version
from oauth_app import tokens

logger = logging.getLogger(__name__)

# Sent on every rejection (metrics count them): sender is the limit's name ("oauth", "mcp", "login").
rate_limited = Signal()

MCP_PATH = "/mcp"
OAUTH_PREFIX = "/oauth/"
# Implementation-defined server errors (JSON-RPC reserves -32000..-32099 for them).
JSONRPC_RATE_LIMITED = -32029
JSONRPC_UNAVAILABLE = -32030
NO_IDENTITY = object()


# --- The client's address ------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def parse_address(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def is_trusted_proxy(address) -> bool:
    return any(address in network for network in trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or, when that is a trusted proxy, the address the proxies saw.

    X-Forwarded-For is read from the right (the nearest proxy's entry) past every trusted proxy; entries
    further left were written by the client and could be anything.
    """
    if request is None:
        return None
    if getattr(request, "client_address", None):
        return request.client_address
    remote = parse_address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    address = remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and is_trusted_proxy(remote):
        for entry in reversed(forwarded.split(",")):
            hop = parse_address(entry)
            if hop is None:
                break  # garbage: stop at the last address we could trust
            address = hop
            if not is_trusted_proxy(hop):
                break
    request.client_address = str(address)
    return request.client_address


# --- Responses ----------------------------------------------------------------------------------
def kind_of(request) -> str:
    """Which kind of caller a path serves, so an error comes in the body it understands."""
    path = request.path_info
    if path == MCP_PATH:
        return "mcp"
    if path.startswith(OAUTH_PREFIX) or path.startswith("/.well-known/"):
        return "oauth"
    return "page"


def retry_later(request, *, status: int, retry_after: int, title: str, message: str) -> HttpResponse:
    """429 or 503 with Retry-After: OAuth error JSON, a JSON-RPC error on /mcp, a page elsewhere."""
    kind = kind_of(request)
    if kind == "mcp":
        code = JSONRPC_RATE_LIMITED if status == 429 else JSONRPC_UNAVAILABLE
        response = JsonResponse({"jsonrpc": "2.0", "id": None, "error": {
            "code": code, "message": message, "data": {"retry_after": retry_after}}}, status=status)
    elif kind == "oauth":
        # RFC 6749 section 4.1.2.1: "temporarily unable to handle the request due to a temporary overloading".
        response = JsonResponse({"error": "temporarily_unavailable", "error_description": message}, status=status)
        response["Cache-Control"] = "no-store"
    else:
        response = HttpResponse(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{message}</p></body></html>",
            status=status, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response


def too_many_requests(limit: str, retry_after: int, request) -> HttpResponse:
    retry_after = max(1, int(retry_after))
    rate_limited.send(sender=limit, request=request)
    logger.warning("rate limit %s exceeded by %s", limit, client_address(request),
                   extra={"event": "rate_limited", "details": {"limit": limit, "path": request.path}})
    return retry_later(request, status=429, retry_after=retry_after, title="Too many attempts",
                       message=f"Too many requests; retry after {retry_after} seconds.")


# --- django-ratelimit: OAuth endpoints and login --------------------------------------------------
def usage(request, group: str, value: str, limit: int, window: int, increment: bool) -> dict | None:
    """django-ratelimit's count for (group, value); None when the cache cannot be reached."""
    try:
        return get_usage(request, group=group, key=lambda _group, _request: value, rate=(limit, window),
                         increment=increment)
    except Exception:
        logger.warning("rate limit cache unreachable; %s not counted", group)
        return None


def check_oauth(request) -> HttpResponse | None:
    found = usage(request, "oauth", client_address(request) or "-", settings.RATE_LIMIT_OAUTH_MAX,
                  settings.RATE_LIMIT_OAUTH_WINDOW, increment=True)
    if found and found["should_limit"]:
        return too_many_requests("oauth", found["time_left"], request)
    return None


def login_keys(request) -> list[str]:
    keys = [f"address:{client_address(request) or '-'}"]
    username = request.POST.get("username", "").strip().lower()
    if username:
        keys.append(f"account:{username}")
    return keys


def check_login(request) -> HttpResponse | None:
    for value in login_keys(request):
        found = usage(request, "login", value, settings.RATE_LIMIT_LOGIN_MAX, settings.RATE_LIMIT_LOGIN_WINDOW,
                      increment=False)
        # The counter holds failures so far; one more attempt is allowed while it is below the limit.
        if found and found["count"] >= found["limit"]:
            return too_many_requests("login", found["time_left"], request)
    return None


def count_login_failure(request) -> None:
    for value in login_keys(request):
        usage(request, "login", value, settings.RATE_LIMIT_LOGIN_MAX, settings.RATE_LIMIT_LOGIN_WINDOW,
              increment=True)


# --- /mcp: the counter and the token's allow-list entry in one round trip --------------------------
def bearer_token(request) -> str:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def window_key(value: str, window: int, now: int) -> str:
    return f"rl:mcp:{value}:{now // window}"


def count_in_pipeline(counter_key: str, window: int, extra_get: str | None) -> tuple[int | None, object]:
    """INCR the fixed-window counter and GET another key: one round trip.

    The counter gets its expiry on the request that created it (count 1), in a second round trip once per
    window and client. Should that EXPIRE never arrive (Redis lost in between), the key outlives its window
    but is never counted on again: its name carries the window's number.
    Returns (count, the other key's raw value); (None, None) when Redis cannot be reached.
    """
    key = cache.make_key(counter_key)
    try:
        client = cache.client.get_client(write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incr(key)
        if extra_get:
            pipe.get(cache.make_key(extra_get))
            pipe.get(policy_version_key())  # the access policy's version, for this request's decisions
        results = pipe.execute()
        if extra_get:
            remember_prefetched_version(results[2])
        if results[0] == 1:
            client.expire(key, window + 5)
    except Exception:
        logger.warning("rate limit cache unreachable; /mcp request not counted")
        return None, None
    return results[0], (cache.client.decode(results[1]) if extra_get and results[1] is not None else None)


def count_in_cache(counter_key: str, window: int) -> int | None:
    """The same counter on a non-Redis cache (development): two calls, per process."""
    try:
        cache.add(counter_key, 0, timeout=window + 5)
        return cache.incr(counter_key)
    except Exception:
        return None


def verify_and_count(request, raw_token: str, now: int):
    """(identity or None, count) for a bearer request; the token check costs no extra round trip."""
    window = settings.RATE_LIMIT_MCP_WINDOW
    try:
        claims = tokens.decode_access_token(raw_token)
    except tokens.InvalidToken:
        return None, count_anonymous(request, now)
    checksum = tokens.token_checksum(raw_token)
    counter = window_key(f"client:{claims['client_id']}", window, now)
    if settings.CACHE_IS_SHARED:
        count, entry = count_in_pipeline(counter, window, tokens.active_token_cache_key(checksum))
    else:
        count, entry = count_in_cache(counter, window), None
    reachable = count is not None and settings.CACHE_IS_SHARED
    active = tokens.is_active_given_entry(checksum, int(claims["exp"]), entry, cache_reachable=reachable)
    return (tokens.identity_from_claims(claims) if active else None), count


def count_anonymous(request, now: int) -> int | None:
    window = settings.RATE_LIMIT_MCP_WINDOW
    counter = window_key(f"address:{client_address(request) or '-'}", window, now)
    if settings.CACHE_IS_SHARED:
        return count_in_pipeline(counter, window, None)[0]
    return count_in_cache(counter, window)


def check_mcp(request) -> HttpResponse | None:
    if request.method != "POST":
        return None  # GET/DELETE/OPTIONS on /mcp are answered without work worth limiting
    now = int(time.time())
    raw_token = bearer_token(request)
    if raw_token:
        request.bearer_identity, count = verify_and_count(request, raw_token, now)
    else:
        count = count_anonymous(request, now)
    if count is not None and count > settings.RATE_LIMIT_MCP_MAX:
        window = settings.RATE_LIMIT_MCP_WINDOW
        return too_many_requests("mcp", window - now % window, request)
    return None


def bearer_identity(request, raw_token: str):
    """The identity the middleware verified for this request's token, or NO_IDENTITY if it did not check it.

    The /mcp authentication calls this first and verifies the token itself only on NO_IDENTITY.
    """
    if raw_token and raw_token == bearer_token(request) and hasattr(request, "bearer_identity"):
        return request.bearer_identity
    return NO_IDENTITY


class RateLimitMiddleware:
    """Applies the limits by path, before sessions and views run, so a rejected request costs little."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        client_address(request)
        path = request.path_info
        if path == MCP_PATH:
            return check_mcp(request) or self.get_response(request)
        if path.startswith(OAUTH_PREFIX):
            return check_oauth(request) or self.get_response(request)
        if path == settings.LOGIN_URL and request.method == "POST":
            rejected = check_login(request)
            if rejected:
                return rejected
            response = self.get_response(request)
            if response.status_code == 200:  # the form came back with an error: a failed attempt
                count_login_failure(request)
            return response
        return self.get_response(request)
