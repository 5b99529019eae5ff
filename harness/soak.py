"""The mixed-load soak: whole client lives, over and over, against gunicorn on PostgreSQL + Redis.

Each worker thread repeats what a real MCP client does: register (initial access token), sign in and
consent, exchange the code, initialize, call tools, refresh, call again, revoke, and check the revoked
token is refused. `run` sums up: 5xx answers, unexpected answers, registered clients missing from the
database, worker memory growth. Run by bench/soak.py (`make soak`) and tests/e2e/test_soak.py.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from harness.load import PASSWORD, USERNAME, rss_mb, start_server
from mcp_client import FlowError, McpOAuthClient, log_in_and_consent

MAX_RSS_GROWTH_MB = 25
REDIRECT_URI = "http://127.0.0.1:9/callback"


class Tally:
    """Thread-safe counts of what happened; `problems` keeps the first unexpected answers verbatim."""

    def __init__(self):
        self.lock = threading.Lock()
        self.steps = Counter()
        self.problems: list[str] = []
        self.registered: list[str] = []

    def step(self, name: str) -> None:
        with self.lock:
            self.steps[name] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.steps["problems"] += 1
            if len(self.problems) < 20:
                self.problems.append(text[:300])


def client_life(base_url: str, dcr_token: str, tally: Tally, calls: int = 5) -> None:
    """One client's life, from registration to revocation; every answer is checked."""
    client = McpOAuthClient(f"{base_url}/mcp", timeout=30)
    client.discover()
    registered = client.register(redirect_uri=REDIRECT_URI, initial_access_token=dcr_token,
                                 client_name=f"soak-{uuid.uuid4().hex[:8]}")
    with tally.lock:
        tally.registered.append(registered.client_id)
    tally.step("registration")
    request = client.authorization_request()
    client.finish_authorization(request, log_in_and_consent(request.url, REDIRECT_URI, USERNAME, PASSWORD))
    tally.step("authorization+token")
    client.initialize()
    for n in range(calls):
        assert client.call_tool("echo", {"message": f"soak {n}"})["content"][0]["text"] == f"Echo: soak {n}"
    tally.step("tools/call")
    client.refresh()
    tally.step("refresh")
    client.call_tool("echo", {"message": "after refresh"})
    client.revoke(client.tokens.refresh_token, "refresh_token")
    client.revoke(client.tokens.access_token, "access_token")
    tally.step("revocation")
    refused = client.post_mcp(client.message("tools/list"))
    if refused.status_code != 401:
        raise FlowError(f"a revoked access token was answered {refused.status_code}")


def worker(base_url: str, dcr_token: str, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        try:
            client_life(base_url, dcr_token, tally)
            tally.step("lives")
        except (FlowError, AssertionError, KeyError, requests.RequestException) as exc:
            tally.problem(f"{type(exc).__name__}: {exc}")


def answered_statuses(log_path: Path) -> Counter:
    """Every status gunicorn's access log recorded, by hundreds (2xx, 4xx, 5xx)."""
    statuses = Counter()
    for line in log_path.read_text().splitlines():
        if '"logger": "gunicorn.access"' in line:
            try:
                statuses[json.loads(line)["status"][0] + "xx"] += 1
            except (ValueError, KeyError, IndexError):
                continue
    return statuses


def missing_clients(database_url: str, client_ids: list[str]) -> list[str]:
    with psycopg.connect(database_url) as conn:
        stored = {row[0] for row in conn.execute("SELECT client_id FROM oauth_app_client")}
    return [client_id for client_id in client_ids if client_id not in stored]


def run_lives(base_url: str, dcr_token: str, threads: int, seconds: int, tally) -> None:
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(threads):
            pool.submit(worker, base_url, dcr_token, deadline, tally)


def run(duration: int, threads: int = 4, extra_env: dict[str, str] | None = None,
        route_database: Callable[[str], str] | None = None) -> dict:
    """`extra_env` and `route_database` as in harness.load.start_server (settings, PgBouncer in front)."""
    workdir = Path(tempfile.mkdtemp(prefix="mcp-soak-"))
    dcr_token = f"soak-dcr-{uuid.uuid4().hex}"
    server = start_server(workdir, dcr_token, extra_env={"GUNICORN_ACCESS_LOG": "-", **(extra_env or {})},
                          name="soak", route_database=route_database)
    try:
        tally = Tally()
        # Warm-up under the same concurrent load, so that every worker has served every step (imports,
        # connections, caches, copy-on-write of the preloaded app) before the memory baseline is taken.
        run_lives(server.base_url, dcr_token, threads, max(5, duration // 10), tally)
        before = {pid: rss_mb(pid) for pid in server.worker_pids()}
        run_lives(server.base_url, dcr_token, threads, duration, tally)
        after = {pid: rss_mb(pid) for pid in server.worker_pids()}
        summary = {
            "duration_s": duration,
            "steps": dict(tally.steps),
            "problems": tally.problems,
            "answers": dict(answered_statuses(workdir / "soak.log")),
            "lost_registrations": missing_clients(server.env["DATABASE_URL"], tally.registered),
            "rss_mb_before": before,
            "rss_mb_after": after,
            "rss_growth_mb": max((after.get(pid, mb) - mb for pid, mb in before.items()), default=0.0),
            "workers_replaced": sorted(before) != sorted(after),
        }
        summary["ok"] = (not summary["problems"] and summary["answers"].get("2xx", 0) > 0
                         and summary["answers"].get("5xx", 0) == 0 and not summary["lost_registrations"]
                         and summary["rss_growth_mb"] < MAX_RSS_GROWTH_MB and tally.steps["lives"] > 0)
        return summary
    finally:
        server.stop()
