"""Prometheus metrics for operators: GET /metrics, in the text exposition format (version 0.0.4).

Counting costs no I/O on the request path: each worker adds to dictionaries in its own memory, and a
background thread adds them to Redis hashes every METRICS_FLUSH_SECONDS in one pipelined round trip
(HINCRBY, atomic, so workers and hosts never lose each other's counts). /metrics reads the totals from
Redis, so any instance reports the whole deployment: scrape one address. Without Redis (development)
each worker reports its own counts.

Series: requests and latency per endpoint (the URL pattern's name, never the raw path), authentication
failures (401/403 answers), rate-limit rejections (common.errors' signal) and the OAuth events of
the audit log (tokens issued, refreshed and revoked, registrations, ...).

Every label value comes from a closed set (anything else is counted as `other`), so anonymous callers
cannot grow the series or the Redis hashes with made-up methods, paths or statuses; the hashes also
expire when no worker has counted anything for KEY_TTL_SECONDS.
"""

from __future__ import annotations

import atexit
import bisect
import hmac
import ipaddress
import logging
import os
import threading
import time
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db.models.signals import post_save
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from common.redis import redis_client

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INF = len(LATENCY_BUCKETS)  # index of the +Inf bucket
# Hash names; fields are label values joined by "|".
REQUESTS = "requests"  # endpoint|method|status -> count
LATENCY = "latency"  # endpoint|bucket index -> count (per bucket, made cumulative when rendered)
LATENCY_SUM = "latency_sum"  # endpoint -> seconds
AUTH_FAILURES = "auth_failures"  # endpoint|status -> count
RATE_LIMITED = "rate_limited"  # limit -> count
OAUTH_EVENTS = "oauth_events"  # audit event kind -> count
FLOAT_HASHES = {LATENCY_SUM}
HASHES = (REQUESTS, LATENCY, LATENCY_SUM, AUTH_FAILURES, RATE_LIMITED, OAUTH_EVENTS)
# Refreshed on every flush: only the hashes of a deployment that has stopped counting go away.
KEY_TTL_SECONDS = 30 * 24 * 3600

# The closed sets label values come from.
OTHER = "other"
UNMATCHED = "unmatched"  # no URL pattern matched (scanners, typos)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
RATE_LIMITS = frozenset({"oauth", "mcp", "login"})  # the limits oauth_app.ratelimit and mcp_app.throttling name; add new ones here


class Counters:
    """This worker's counts not yet added to the shared totals, and the flusher that adds them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending: dict[tuple[str, str], float] = defaultdict(float)
        self.local: dict[tuple[str, str], float] = defaultdict(float)  # the totals when there is no Redis
        self.flusher_pid = 0

    def add(self, name: str, field: str, amount: float = 1) -> None:
        with self.lock:
            self.pending[(name, field)] += amount
        if self.flusher_pid != os.getpid():  # first count in this process (gunicorn forks after loading)
            self.start_flusher()

    def take(self) -> dict[tuple[str, str], float]:
        with self.lock:
            taken, self.pending = self.pending, defaultdict(float)
        return taken

    def flush(self) -> None:
        taken = self.take()
        if not taken:
            return
        if not settings.CACHE_IS_SHARED:
            with self.lock:
                for key, amount in taken.items():
                    self.local[key] += amount
            return
        try:
            pipe = redis_client().pipeline(transaction=False)
            for (name, field), amount in taken.items():
                if name in FLOAT_HASHES:
                    pipe.hincrbyfloat(hash_key(name), field, amount)
                else:
                    pipe.hincrby(hash_key(name), field, int(amount))
            for name in {name for name, _field in taken}:
                pipe.expire(hash_key(name), KEY_TTL_SECONDS)
            pipe.execute()
        except Exception:
            logger.warning("metrics: Redis unreachable; %d series kept for the next flush", len(taken))
            with self.lock:
                for key, amount in taken.items():
                    self.pending[key] += amount

    def start_flusher(self) -> None:
        with self.lock:
            if self.flusher_pid == os.getpid():
                return
            self.flusher_pid = os.getpid()
        threading.Thread(target=self.flush_forever, name="metrics-flusher", daemon=True).start()
        atexit.register(self.flush)

    def flush_forever(self) -> None:
        while True:
            time.sleep(settings.METRICS_FLUSH_SECONDS)
            self.flush()

    def totals(self) -> dict[str, dict[str, float]]:
        """Every series' total: all workers' (from Redis), or this process's."""
        self.flush()
        if settings.CACHE_IS_SHARED:
            pipe = redis_client().pipeline(transaction=False)
            for name in HASHES:
                pipe.hgetall(hash_key(name))
            return {name: {f.decode(): float(v) for f, v in values.items()}
                    for name, values in zip(HASHES, pipe.execute())}
        totals: dict[str, dict[str, float]] = defaultdict(dict)
        with self.lock:
            for (name, field), amount in self.local.items():
                totals[name][field] = amount
        return totals


counters = Counters()


def hash_key(name: str) -> str:
    return f"{settings.CACHE_KEY_PREFIX}:metrics:{name}"


# --- Counting -------------------------------------------------------------------------------------
def endpoint_label(request) -> str:
    match = request.resolver_match
    if match is None:
        return UNMATCHED
    return match.url_name or OTHER  # an unnamed pattern (the admin's catch-all) is still not the raw path


def method_label(method: str | None) -> str:
    return method if method in METHODS else OTHER


def status_label(status: int) -> str:
    return str(status) if isinstance(status, int) and 100 <= status <= 599 else OTHER


class MetricsMiddleware:
    """Outermost middleware: counts every answer and its latency by endpoint. A few dictionary updates."""

    def __init__(self, get_response):
        if not settings.METRICS_ENABLED:
            raise MiddlewareNotUsed
        self.get_response = get_response
        connect_signals()

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        endpoint, status = endpoint_label(request), response.status_code
        counters.add(REQUESTS, f"{endpoint}|{method_label(request.method)}|{status_label(status)}")
        counters.add(LATENCY, f"{endpoint}|{bisect.bisect_left(LATENCY_BUCKETS, elapsed)}")
        counters.add(LATENCY_SUM, endpoint, elapsed)
        if status in (401, 403):
            counters.add(AUTH_FAILURES, f"{endpoint}|{status}")
        return response


def count_rate_limited(sender, **kwargs) -> None:
    counters.add(RATE_LIMITED, sender if sender in RATE_LIMITS else OTHER)


def count_oauth_event(sender, instance, created, **kwargs) -> None:
    if created:
        counters.add(OAUTH_EVENTS, instance.kind if instance.kind in sender.Kind.values else OTHER)


def connect_signals() -> None:
    """The events other modules announce (idempotent: dispatch_uid)."""
    from common.errors import rate_limited
    from oauth_app.models import AuditEvent

    rate_limited.connect(count_rate_limited, dispatch_uid="metrics.rate_limited")
    post_save.connect(count_oauth_event, sender=AuditEvent, dispatch_uid="metrics.oauth_event")


# --- Exposition -----------------------------------------------------------------------------------
def label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(**pairs: str) -> str:
    return "{" + ",".join(f'{name}="{label_value(value)}"' for name, value in pairs.items()) + "}"


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def counter_family(name: str, help_text: str, label_names: tuple[str, ...], values: dict[str, float]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
    for field, value in sorted(values.items()):
        lines.append(f"{name}{labels(**dict(zip(label_names, field.split('|'))))} {number(value)}")
    return lines


def histogram_family(name: str, help_text: str, buckets: dict[str, float], sums: dict[str, float]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    per_endpoint: dict[str, list[float]] = defaultdict(lambda: [0.0] * (INF + 1))
    for field, value in buckets.items():
        endpoint, index = field.rsplit("|", 1)
        per_endpoint[endpoint][int(index)] += value
    for endpoint in sorted(per_endpoint):
        cumulative = 0.0
        for index, count in enumerate(per_endpoint[endpoint]):
            cumulative += count
            bound = "+Inf" if index == INF else repr(LATENCY_BUCKETS[index])
            lines.append(f"{name}_bucket{labels(endpoint=endpoint, le=bound)} {number(cumulative)}")
        lines.append(f"{name}_sum{labels(endpoint=endpoint)} {number(sums.get(endpoint, 0.0))}")
        lines.append(f"{name}_count{labels(endpoint=endpoint)} {number(cumulative)}")
    return lines


def exposition() -> str:
    totals = counters.totals()
    lines = [
        *counter_family("mcp_http_requests_total", "HTTP requests answered, by endpoint (URL name), method and status.",
                        ("endpoint", "method", "status"), totals.get(REQUESTS, {})),
        *histogram_family("mcp_http_request_duration_seconds", "Time to answer, by endpoint.",
                          totals.get(LATENCY, {}), totals.get(LATENCY_SUM, {})),
        *counter_family("mcp_auth_failures_total", "Requests refused for authentication (401) or scope (403).",
                        ("endpoint", "status"), totals.get(AUTH_FAILURES, {})),
        *counter_family("mcp_rate_limited_total", "Requests refused by a rate limit (429), by limit.",
                        ("limit",), totals.get(RATE_LIMITED, {})),
        *counter_family("mcp_oauth_events_total", "OAuth events of the audit log: token_issued, token_refreshed, "
                        "token_revoked, client_registered, client_auth_failed, ...", ("event",),
                        totals.get(OAUTH_EVENTS, {})),
    ]
    return "\n".join(lines) + "\n"


# --- The endpoint ---------------------------------------------------------------------------------
def is_allowed(request) -> bool:
    """METRICS_TOKEN as a bearer token, or a direct connection (no proxy in between) from
    METRICS_ALLOWED_IPS: behind a proxy every caller has the proxy's address, so that is not enough."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if settings.METRICS_TOKEN and scheme.lower() == "bearer":
        return hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode())
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(allowed, strict=False) for allowed in settings.METRICS_ALLOWED_IPS)


@require_GET
def metrics(request):
    if not is_allowed(request):
        return JsonResponse({"error": "forbidden", "detail": "metrics are restricted"}, status=403)
    try:
        body = exposition()
    except Exception:
        logger.exception("metrics: totals could not be read")
        return JsonResponse({"error": "unavailable", "detail": "metrics store unreachable"}, status=503)
    return HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8")
