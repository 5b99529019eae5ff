"""GET /metrics: Prometheus counters of requests, latency, auth failures, rate limits and OAuth events,
restricted to configured addresses or a bearer token, added up across workers in Redis."""

import random
import re

import pytest
from django.conf import settings
from django_redis import get_redis_connection

from mcpsite import metrics
from oauth_app import audit
from oauth_app.models import AuditEvent


@pytest.fixture(autouse=True)
def fresh_counters(db):
    metrics.counters.take()  # counts of earlier tests, not yet flushed, are not this test's
    metrics.counters.local.clear()
    yield


def scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_requests_are_counted_by_endpoint_method_and_status(client):
    for _ in range(3):
        assert client.get("/health").status_code == 200
    text = scrape(client)
    assert value(text, 'mcp_http_requests_total{endpoint="health",method="GET",status="200"}') == 3
    assert value(text, 'mcp_http_request_duration_seconds_count{endpoint="health"}') == 3
    assert value(text, 'mcp_http_request_duration_seconds_bucket{endpoint="health",le="+Inf"}') == 3
    assert value(text, 'mcp_http_request_duration_seconds_sum{endpoint="health"}') > 0


def test_unknown_paths_share_one_label_so_scanners_cannot_grow_the_series(client):
    client.get("/wp-login.php")
    client.get("/.env")
    text = scrape(client)
    assert value(text, 'mcp_http_requests_total{endpoint="unmatched",method="GET",status="404"}') == 2
    assert "wp-login" not in text


def test_metrics_are_refused_to_other_addresses(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 403


def test_metrics_are_refused_through_a_proxy_even_from_an_allowed_address(client):
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 403


def test_metrics_accept_the_configured_token_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "scraper-token-0123456789"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7",
                      HTTP_AUTHORIZATION="Bearer scraper-token-0123456789").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7",
                      HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403


def test_authentication_failures_are_counted(client, settings):
    settings.METRICS_TOKEN = "scraper-token-0123456789"
    client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer wrong-token")
    text = scrape(client)
    assert value(text, 'mcp_auth_failures_total{endpoint="metrics",status="403"}') == 1


def test_rate_limit_rejections_are_counted_by_limit(client, settings):
    settings.RATE_LIMIT_OAUTH_MAX = 1
    statuses = [client.post("/oauth/token", {"grant_type": "refresh_token"}).status_code for _ in range(3)]
    assert statuses.count(429) == 2
    assert value(scrape(client), 'mcp_rate_limited_total{limit="oauth"}') == 2


def test_oauth_events_of_the_audit_log_are_counted(client):
    audit.record("token_issued", client_id="c1", actor="alice")
    audit.record("token_issued", client_id="c1", actor="alice")
    audit.record("token_revoked", client_id="c1", actor="alice")
    text = scrape(client)
    assert value(text, 'mcp_oauth_events_total{event="token_issued"}') == 2
    assert value(text, 'mcp_oauth_events_total{event="token_revoked"}') == 1


@pytest.mark.skipif(not settings.CACHE_IS_SHARED, reason="needs Redis (the shared cache)")
def test_counts_of_every_worker_add_up_in_redis(client):
    first_worker, second_worker = metrics.Counters(), metrics.Counters()
    first_worker.pending[(metrics.OAUTH_EVENTS, "client_registered")] = 2
    second_worker.pending[(metrics.OAUTH_EVENTS, "client_registered")] = 3
    first_worker.flush()
    second_worker.flush()
    assert value(scrape(client), 'mcp_oauth_events_total{event="client_registered"}') == 5


def random_token(rng, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


@pytest.mark.skipif(not settings.CACHE_IS_SHARED, reason="needs Redis (the shared cache)")
def test_made_up_methods_paths_and_limits_leave_the_series_and_redis_hashes_bounded(client):
    rng = random.Random(6)
    for _ in range(200):
        method = random_token(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", rng.randint(3, 12))
        path = "/" + random_token(rng, "abcdefghijklmnopqrstuvwxyz0123456789-._~", rng.randint(1, 30))
        client.generic(method, path)
        client.generic(method, "/health")
        metrics.count_rate_limited(sender=random_token(rng, "abcdefghij", 8))
        audit.record(random_token(rng, "abcdefghij", 8), client_id="c1", actor="scanner")
    metrics.counters.flush()

    redis = get_redis_connection("default")
    requests_fields = {field.decode() for field in redis.hkeys(metrics.hash_key(metrics.REQUESTS))}
    methods = {field.split("|")[1] for field in requests_fields}
    endpoints = {field.split("|")[0] for field in requests_fields}
    assert methods == {metrics.OTHER}
    assert endpoints <= {metrics.UNMATCHED, "health"}
    assert len(requests_fields) <= 4  # two endpoints x one method x a status or two
    assert len(redis.hkeys(metrics.hash_key(metrics.LATENCY))) <= 2 * (metrics.INF + 1)
    limits = {field.decode() for field in redis.hkeys(metrics.hash_key(metrics.RATE_LIMITED))}
    assert limits <= metrics.RATE_LIMITS | {metrics.OTHER}
    events = {field.decode() for field in redis.hkeys(metrics.hash_key(metrics.OAUTH_EVENTS))}
    assert events <= set(AuditEvent.Kind.values) | {metrics.OTHER}


@pytest.mark.skipif(not settings.CACHE_IS_SHARED, reason="needs Redis (the shared cache)")
def test_the_metrics_hashes_expire_unless_a_flush_refreshes_them(client):
    client.get("/health")
    metrics.counters.flush()
    ttl = get_redis_connection("default").ttl(metrics.hash_key(metrics.REQUESTS))
    assert 0 < ttl <= metrics.KEY_TTL_SECONDS
