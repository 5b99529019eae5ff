"""`make bench-memory`: worker memory over 100,000 hot-path requests (the issue's target: < 10 MB growth).

Same server as `make bench` (gunicorn, 2 sync workers, PostgreSQL + Redis, a token from the OAuth flow);
wrk cycles through tools/call, tools/list, initialize and registration until the workers have served
--requests. Prints worker RSS after each wrk run and fails (exit 1) on any error or when a worker grew by
10 MB or more. (`make soak`, bench/soak.py, is the mixed OAuth + MCP lifecycle soak.)

    .venv/bin/python bench/memory.py [--requests 100000] [--step 15] [--max-seconds 1800]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import MCP_SCENARIOS, REGISTRATION_BODY, authorize_client, run_wrk, start_ours  # noqa: E402
from harness.load import rss_mb  # noqa: E402

MAX_GROWTH_MB = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000, help="requests to serve")
    parser.add_argument("--max-seconds", type=int, default=1800, help="stop after this long whatever the count")
    parser.add_argument("--step", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    dcr_token = f"bench-dcr-{uuid.uuid4().hex}"
    server = start_ours(Path(tempfile.mkdtemp(prefix="mcp-memory-")), dcr_token)
    try:
        authorize_client(server, dcr_token)
        scenarios = [(f"{server.base_url}/mcp", *MCP_SCENARIOS[name], server.token, 200) for name in MCP_SCENARIOS]
        scenarios.append((f"{server.base_url}/oauth/register", REGISTRATION_BODY, '"client_id"', dcr_token, 201))
        run_wrk(scenarios[0][0], scenarios[0][1], scenarios[0][2], token=server.token, duration=2,
                connections=args.connections)  # warm-up
        before = {pid: rss_mb(pid) for pid in server.worker_pids()}
        requests = errors = cycle = 0
        deadline = time.monotonic() + args.max_seconds
        while requests < args.requests and time.monotonic() < deadline:
            url, body, expect, token, status = scenarios[cycle % len(scenarios)]
            result = run_wrk(url, body, expect, token=token, status=status, duration=args.step,
                             connections=args.connections)
            requests, errors, cycle = requests + result["requests"], errors + result["errors"], cycle + 1
            rss = {pid: rss_mb(pid) for pid in server.worker_pids()}
            print(f"{requests:9d} requests  {errors} errors  {result['rps']:8.1f} req/s  worker RSS MB "
                  f"{sorted(rss.values())}", flush=True)
        growth = max(rss.get(pid, 0) - mb for pid, mb in before.items())
        print(f"\n{requests} requests, {errors} errors, largest worker RSS growth {growth:.1f} MB "
              f"(workers replaced: {sorted(before) != sorted(rss)})")
        short = requests < args.requests
        if short:
            print(f"stopped after {args.max_seconds} s, short of {args.requests} requests")
        sys.exit(1 if errors or short or growth >= MAX_GROWTH_MB else 0)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
