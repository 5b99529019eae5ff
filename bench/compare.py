"""Our server from several checkouts (or settings), measured in alternation: CPU ms per request and req/s.

    git worktree add /tmp/base f83a69a && ln -s "$PWD/.venv" /tmp/base/.venv
    .venv/bin/python bench/compare.py base=/tmp/base now=. sync=.:GUNICORN_THREADS=1 [--rounds 5]

Each NAME=CHECKOUT[:VAR=VALUE,...] starts that checkout's own server (its bench/run.py `start_ours`, in a
process of its own, on a fresh database), then wrk drives every server in turn, round after round (the
order rotates), so that a slower minute of a shared machine falls on all of them. This is how a change
is held to "within 10% of the CPU per request of commit X" (issue 14).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import MCP_SCENARIOS, run_wrk  # noqa: E402
from harness.load import child_pids, cpu_seconds  # noqa: E402

# Runs inside a checkout: starts its server, prints one JSON line (url, token, master pid), waits.
SERVE = """
import json, sys, tempfile, time, uuid
from pathlib import Path
sys.path.insert(0, ".")
from bench import run
env = dict(item.split("=", 1) for item in sys.argv[2:])
token = f"bench-dcr-{uuid.uuid4().hex}"
server = run.start_ours(Path(tempfile.mkdtemp(prefix="mcp-compare-")), token, env, sys.argv[1])
run.authorize_client(server, token)
print(json.dumps({"url": server.base_url, "token": server.token, "master": server.master.pid}), flush=True)
try:
    sys.stdin.read()  # until the comparison ends
finally:
    server.stop()
"""


def start(spec: str) -> tuple[str, subprocess.Popen, dict]:
    name, _, rest = spec.partition("=")
    checkout, _, assignments = rest.partition(":")
    env_args = [item for item in assignments.split(",") if item]
    python = str(Path(checkout).resolve() / ".venv" / "bin" / "python")
    process = subprocess.Popen([python, "-c", SERVE, name, *env_args], cwd=checkout, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"{name}: the server did not start")
    return name, process, json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("servers", nargs="+", metavar="NAME=CHECKOUT[:VAR=VALUE,...]")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--scenario", action="append", choices=list(MCP_SCENARIOS))
    parser.add_argument("--every-run", action="store_true",
                        help="also each run's CPU ms/req and the busiest process's share of that CPU")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        raise SystemExit("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL; see tests/backends.sh)")
    scenarios = args.scenario or ["tools/call echo", "tools/list"]
    servers = []
    try:
        servers = [start(spec) for spec in args.servers]
        for _, _, server in servers:  # warm-up
            run_wrk(f"{server['url']}/mcp", *MCP_SCENARIOS[scenarios[0]], token=server["token"], duration=2,
                    connections=8)
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_number in range(args.rounds):
            shift = round_number % len(servers)
            for name, _, server in servers[shift:] + servers[:shift]:
                for scenario in scenarios:
                    pids = child_pids(server["master"])
                    before = [cpu_seconds([pid]) for pid in pids]
                    run = run_wrk(f"{server['url']}/mcp", *MCP_SCENARIOS[scenario], token=server["token"],
                                  duration=args.duration, connections=8)
                    spent = [cpu_seconds([pid]) - start for pid, start in zip(pids, before)]
                    cpu_ms = 1000 * sum(spent) / max(run["requests"], 1)
                    # The busiest worker's share: connections spread unevenly over workers cost more per request.
                    busiest = max(spent) / max(sum(spent), 1e-9)
                    results.setdefault((scenario, name), []).append((cpu_ms, run["rps"], busiest))
        for (scenario, name), runs in sorted(results.items()):
            cpu = [value for value, _, _ in runs]
            print(f"{scenario:16} {name:12} CPU ms/req median {statistics.median(cpu):.3f} (best {min(cpu):.3f})  "
                  f"req/s median {statistics.median(rps for _, rps, _ in runs):7.0f}")
            if args.every_run:
                print("    " + "  ".join(f"{value:.2f}@{share:.0%}" for value, _, share in runs))
    finally:
        for _, process, _ in servers:
            process.stdin.close()
        for _, process, _ in servers:
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
