"""Where the CPU of one request goes: cProfile of the Django application, in process, on the real
PostgreSQL + Redis, with a token obtained through the OAuth flow of a running gunicorn.

    .venv/bin/python bench/profile_request.py [--requests 2000] [--scenario "tools/call echo"] [--top 30]

Prints the time per request without the profiler (wall and CPU, one process, no HTTP server or
network), then the functions that take the most time with it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import MCP_SCENARIOS, authorize_client, start_ours  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--scenario", default="tools/call echo", choices=list(MCP_SCENARIOS))
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--cpu", action="store_true", help="profile CPU time (time.process_time), not wall time: "
                        "waits on Redis and PostgreSQL then cost nothing")
    parser.add_argument("--compare", action="store_true",
                        help="CPU per request with and without the levers (middleware, request log, metrics), alternated")
    args = parser.parse_args()

    dcr_token = f"bench-dcr-{uuid.uuid4().hex}"
    server = start_ours(Path(tempfile.mkdtemp(prefix="mcp-profile-")), dcr_token)
    try:
        authorize_client(server, dcr_token)
        os.environ.update(server.env)  # the same database, Redis prefix and JWT secret as the server
        import django

        os.environ["DJANGO_SETTINGS_MODULE"] = "mcpsite.settings"
        django.setup()
        from django.test import Client

        body, expect = MCP_SCENARIOS[args.scenario]
        http = Client(HTTP_HOST=f"127.0.0.1:{server.port}", HTTP_AUTHORIZATION=f"Bearer {server.token}", HTTP_ACCEPT="application/json, text/event-stream",
                      HTTP_MCP_PROTOCOL_VERSION="2025-06-18")

        def send(n: int) -> None:
            for _ in range(n):
                response = http.post("/mcp", body, content_type="application/json")
                assert response.status_code == 200 and expect in response.content.decode(), response.content

        if args.compare:
            compare_levers(server, body, expect, args.requests)
            return
        send(200)  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        send(args.requests)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        # Results on stderr: stdout carries the application's request log, as under gunicorn.
        print(f"{args.scenario}: {wall / args.requests * 1e6:.0f} µs wall, {cpu / args.requests * 1e6:.0f} µs CPU "
              "per request (in process: Django test client, no HTTP server)", file=sys.stderr)
        profiler = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
        profiler.runcall(send, args.requests)
        pstats.Stats(profiler, stream=sys.stderr).strip_dirs().sort_stats(args.sort).print_stats(args.top)
    finally:
        server.stop()


def compare_levers(server, body: str, expect: str, requests: int, rounds: int = 9) -> None:
    """CPU per request in this process for each variant, alternated over rounds (medians): what each
    lever would save, measured on the same machine at the same time."""
    import logging
    import statistics

    from django.conf import settings
    from django.test import Client, override_settings

    from mcpsite import middleware as skipped_on_mcp

    def client(middleware):
        with override_settings(MIDDLEWARE=middleware):
            http = Client(HTTP_HOST=f"127.0.0.1:{server.port}", HTTP_AUTHORIZATION=f"Bearer {server.token}",
                          HTTP_ACCEPT="application/json, text/event-stream", HTTP_MCP_PROTOCOL_VERSION="2025-06-18")
            http.handler.load_middleware()
        return http

    def djangos_own(path: str) -> str:
        """The Django middleware a class of mcpsite.middleware stands for (not skipped on /mcp)."""
        cls = getattr(skipped_on_mcp, path.rpartition(".")[2]) if path.startswith("mcpsite.middleware.") else None
        return f"{cls.__bases__[-1].__module__}.{cls.__bases__[-1].__name__}" if cls else path

    request_log = logging.getLogger("mcpsite.request")
    shipped = list(settings.MIDDLEWARE)
    variants = {
        "as shipped": (client(shipped), logging.NOTSET),
        "browser middleware run on /mcp too": (client([djangos_own(m) for m in shipped]), logging.NOTSET),
        "no per-request log line": (client(shipped), logging.WARNING),
        "no metrics middleware": (client([m for m in shipped if "metrics" not in m]), logging.NOTSET),
        "as shipped, again (noise control)": (client(shipped), logging.NOTSET),
    }
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (http, level) in variants.items():
            request_log.setLevel(level)
            started = time.process_time()
            for _ in range(requests):
                response = http.post("/mcp", body, content_type="application/json")
                assert response.status_code == 200 and expect in response.content.decode(), response.content
            cpu[name].append((time.process_time() - started) / requests * 1e6)
    request_log.setLevel(logging.NOTSET)
    base = statistics.median(cpu["as shipped"])
    for name, values in cpu.items():
        median = statistics.median(values)
        print(f"{name:40} {median:7.0f} µs CPU/request  ({median - base:+.0f} µs; best round {min(values):.0f} µs, "
              f"{min(values) - min(cpu['as shipped']):+.0f})", file=sys.stderr)


if __name__ == "__main__":
    main()
