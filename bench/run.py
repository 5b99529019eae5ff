"""`make bench`: throughput of this server with full OAuth, against the official MCP SDK and bare Django.

Starts three servers on loopback, each with 2 workers:
  ours  gunicorn (deploy/gunicorn.conf.py: gthread workers of 4 threads) on a fresh PostgreSQL database +
        Redis, rate limits raised; a real client registered (RFC 7591) and authorized through the login and consent
        pages (mcp_client/), its access token used for every /mcp request;
  sdk   the official `mcp` 2.3 MCPServer, stateless JSON, under uvicorn (bench/sdk_server.py), no auth;
  bare  a bare Django view under the same gunicorn configuration (bench/bare_settings.py).
wrk (bench/wrk/post.lua) drives the repeatable requests; the token endpoint's single-use inputs
(authorization codes, refresh tokens) go through bench/driver.py, each sent exactly once. The servers
are measured in turn over several rounds (the order rotates), medians are reported, with our/reference
ratios. Every answer is checked (status and content): a wrong answer counts as an error.

    .venv/bin/python bench/run.py [--rounds 3] [--duration 8] [--connections 8] [--token-requests 800]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.driver import DriverResult, Job, drive  # noqa: E402
from harness.load import PASSWORD, USERNAME, WORKERS, Server, cpu_seconds, rss_mb, start_server  # noqa: E402
from harness.servers import PYTHON, free_port, wait_for_http  # noqa: E402
from mcp_client import McpOAuthClient, log_in_and_consent  # noqa: E402

WRK = shutil.which("wrk") or "/usr/bin/wrk"
POST_LUA = ROOT / "bench" / "wrk" / "post.lua"
SDK_PYTHON = ROOT / "tools" / "venv" / "bin" / "python"
RESULTS = ROOT / "bench" / "results"
REDIRECT_URI = "http://127.0.0.1:9/callback"
VARIANTS: list[str] = []  # names of --variant servers (our code with other settings), compared like references


def jsonrpc(method: str, params: dict) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, separators=(",", ":"))


# What each scenario posts, and a text every correct answer contains.
MCP_SCENARIOS = {
    "tools/call echo": (jsonrpc("tools/call", {"name": "echo", "arguments": {"message": "hello"}}), "Echo: hello"),
    "tools/list": (jsonrpc("tools/list", {}), '"echo"'),
    "initialize": (jsonrpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                          "clientInfo": {"name": "bench", "version": "1"}}), '"protocolVersion"'),
}
REGISTRATION_BODY = json.dumps({
    "client_name": "bench", "redirect_uris": [REDIRECT_URI], "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"], "token_endpoint_auth_method": "none",
})


# --- Servers -------------------------------------------------------------------------------------
def start_ours(workdir: Path, dcr_token: str, extra_env: dict[str, str] | None = None, name: str = "ours") -> Server:
    server = start_server(workdir, dcr_token, extra_env, name)
    server.scenarios = [*MCP_SCENARIOS, "registration"] if name == "ours" else list(MCP_SCENARIOS)
    return server


def start_bare(workdir: Path) -> Server:
    port = free_port()
    env = {**os.environ, "GUNICORN_WORKERS": str(WORKERS), "GUNICORN_LOG_LEVEL": "warning"}
    master = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "bench.bare_wsgi:application"],
        cwd=ROOT, env=env, stdout=open(workdir / "bare.log", "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    wait_for_http(f"http://127.0.0.1:{port}/mcp", master)
    return Server("bare", port, master, ["tools/call echo"])


def start_sdk(workdir: Path) -> Server:
    port = free_port()
    master = subprocess.Popen(
        [str(SDK_PYTHON), "-m", "uvicorn", "--app-dir", "bench", "sdk_server:app", "--workers", str(WORKERS),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, stdout=open(workdir / "sdk.log", "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    wait_for_http(f"http://127.0.0.1:{port}/", master)  # (a GET of /mcp opens an event stream)
    return Server("sdk", port, master, list(MCP_SCENARIOS))


# --- The OAuth flow, as a client does it -----------------------------------------------------------
@dataclass
class OAuthSetup:
    client: McpOAuthClient
    basic_auth: str
    refresh_tokens: list[str] = field(default_factory=list)


def authorize_client(server: Server, dcr_token: str) -> OAuthSetup:
    """Registers a confidential client, signs in, consents, exchanges the code: a real access token."""
    client = McpOAuthClient(f"{server.base_url}/mcp")
    client.discover()
    credentials = client.register(redirect_uri=REDIRECT_URI, initial_access_token=dcr_token,
                                  client_name="bench", token_endpoint_auth_method="client_secret_basic")
    request = client.authorization_request()
    client.finish_authorization(request, log_in_and_consent(request.url, request.redirect_uri, USERNAME, PASSWORD))
    if "Echo: hello" not in json.dumps(client.call_tool("echo", {"message": "hello"})):
        raise SystemExit("the echo tool did not answer through the OAuth flow")
    server.token = client.tokens.access_token
    pair = f"{quote(credentials.client_id, safe='')}:{quote(credentials.client_secret or '', safe='')}"
    return OAuthSetup(client, "Basic " + base64.b64encode(pair.encode()).decode())


def signed_in_cookie(base_url: str) -> str:
    """A session cookie of the bench user, through Django's login form."""
    browser = requests.Session()
    page = browser.get(f"{base_url}/accounts/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if not csrf:
        raise SystemExit("no login form at /accounts/login/")
    response = browser.post(f"{base_url}/accounts/login/", allow_redirects=False, timeout=10,
                            data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": csrf.group(1)},
                            headers={"Referer": f"{base_url}/accounts/login/"})
    if response.status_code != 302 or "sessionid" not in browser.cookies:
        raise SystemExit(f"signing in answered {response.status_code}")
    return f"sessionid={browser.cookies['sessionid']}"


def run_token_scenarios(server: Server, setup: OAuthSetup, count: int, concurrency: int) -> dict[str, dict]:
    """authorize (consent remembered) -> code exchange -> refresh: every code and refresh token used once."""
    client, cookie = setup.client, signed_in_cookie(server.base_url)
    requests_ = [client.authorization_request() for _ in range(count)]
    authorize_jobs = [Job(r.url.split(server.base_url, 1)[1], None, {"Cookie": cookie}, method="GET")
                      for r in requests_]
    results: dict[str, dict] = {}
    authorize = drive_measured(server, "authorize", results, authorize_jobs, concurrency, expected_status=302)
    granted = [(r, client.authorization_code(r, answer.location)) for r, answer in zip(requests_, authorize.answers)
               if answer.status == 302 and "code=" in answer.location]
    form_headers = {"Authorization": setup.basic_auth, "Content-Type": "application/x-www-form-urlencoded"}
    exchange_jobs = [
        Job("/oauth/token", urlencode({"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": r.redirect_uri, "code_verifier": r.code_verifier,
                                       "resource": r.resource}), form_headers)
        for r, code in granted
    ]
    exchange = drive_measured(server, "token: code exchange", results, exchange_jobs, concurrency)
    refresh_tokens = [json.loads(a.body)["refresh_token"] for a in exchange.answers if a.status == 200]
    refresh_jobs = [Job("/oauth/token", urlencode({"grant_type": "refresh_token", "refresh_token": token,
                                                   "resource": client.metadata.resource["resource"]}), form_headers)
                    for token in refresh_tokens]
    drive_measured(server, "token: refresh", results, refresh_jobs, concurrency)
    return results


def drive_measured(server: Server, name: str, results: dict, jobs: list[Job], concurrency: int,
                   expected_status: int = 200) -> DriverResult:
    """bench/driver.py on `jobs`; its summary (with CPU per request) goes to results[name]."""
    pids = [server.master.pid, *server.worker_pids()]
    before = cpu_seconds(pids)
    outcome = drive("127.0.0.1", server.port, jobs, concurrency, expected_status)
    used = cpu_seconds(pids) - before
    results[name] = {**outcome.summary(), "cpu_ms_per_request": round(used * 1000 / max(1, outcome.requests), 3)}
    return outcome


# --- wrk -----------------------------------------------------------------------------------------
def run_wrk(url: str, body: str, expect: str, *, token: str = "", status: int = 200, duration: float,
            connections: int) -> dict:
    env = {**os.environ, "BENCH_BODY": body, "BENCH_TOKEN": token, "BENCH_EXPECT": expect,
           "BENCH_STATUS": str(status)}
    result = subprocess.run([WRK, "-t1", f"-c{connections}", f"-d{int(duration)}s", "-s", str(POST_LUA), url],
                            env=env, capture_output=True, text=True, timeout=duration + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line[len("BENCH_JSON "):])
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "wrong_answers"))
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "errors": errors,
        "first_error": raw["first_wrong"],
        "wrk": raw,
    }


def with_cpu(server: Server, measure) -> dict:
    """Runs `measure` (returning a result dict with "requests") and adds the server's CPU time per
    request, workers and master together."""
    pids = [server.master.pid, *server.worker_pids()]
    before = cpu_seconds(pids)
    result = measure()
    used = cpu_seconds(pids) - before
    result["cpu_ms_per_request"] = round(used * 1000 / result["requests"], 3) if result["requests"] else None
    return result


def run_scenario(server: Server, scenario: str, args, setup: OAuthSetup | None, dcr_token: str) -> dict:
    if scenario in MCP_SCENARIOS:
        body, expect = MCP_SCENARIOS[scenario]
        return run_wrk(f"{server.base_url}/mcp", body, expect, token=server.token, duration=args.duration,
                       connections=args.connections)
    if scenario == "registration":
        return run_wrk(f"{server.base_url}/oauth/register", REGISTRATION_BODY, '"client_id"', token=dcr_token,
                       status=201, duration=args.duration, connections=args.connections)
    raise ValueError(scenario)


# --- Reporting -----------------------------------------------------------------------------------
def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    return {"cpu": model.group(1) if model else platform.processor(), "cores": os.cpu_count(),
            "kernel": platform.release(), "python": platform.python_version(),
            "wrk": subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip()}


def summarize(runs: list[dict]) -> dict:
    summary: dict[str, dict] = {}
    for key in sorted({(r["server"], r["scenario"]) for r in runs}):
        mine = [r for r in runs if (r["server"], r["scenario"]) == key]
        summary[f"{key[0]} | {key[1]}"] = {
            "server": key[0], "scenario": key[1], "rounds": len(mine),
            "rps": statistics.median(r["rps"] for r in mine),
            "p50_ms": statistics.median(r["p50_ms"] for r in mine),
            "p99_ms": statistics.median(r["p99_ms"] for r in mine),
            "cpu_ms_per_request": statistics.median(r["cpu_ms_per_request"] or 0 for r in mine),
            "requests": sum(r["requests"] for r in mine),
            "errors": sum(r["errors"] for r in mine),
        }
    return summary


def ratios(summary: dict) -> dict:
    out = {}
    for scenario in MCP_SCENARIOS:
        for reference in ("sdk", "bare", *VARIANTS):
            ours, ref = summary.get(f"ours | {scenario}"), summary.get(f"{reference} | {scenario}")
            if ours and ref and ref["rps"]:
                out[f"{scenario}: ours/{reference} req/s"] = round(ours["rps"] / ref["rps"], 2)
                out[f"{scenario}: ours/{reference} p99"] = round(ours["p99_ms"] / ref["p99_ms"], 2)
                if ours["cpu_ms_per_request"]:  # > 1: we spend less CPU per request than the reference
                    out[f"{scenario}: {reference}/ours CPU per request"] = round(
                        ref["cpu_ms_per_request"] / ours["cpu_ms_per_request"], 2)
    return out


def print_table(summary: dict, ratio: dict, memory: dict) -> None:
    print(f"\n{'server':6} {'scenario':22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} "
          f"{'requests':>9} {'errors':>7}")
    for row in summary.values():
        print(f"{row['server']:6} {row['scenario']:22} {row['rps']:9.1f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
              f"{row['cpu_ms_per_request']:10.3f} {row['requests']:9d} {row['errors']:7d}")
    print()
    for name, value in ratio.items():
        print(f"{name:40} {value:.2f}")
    print()
    for name, rss in memory.items():
        print(f"{name:6} worker RSS MB before {rss['before']} after {rss['after']} "
              f"(growth {rss['growth_mb']}, over {rss['requests']} requests)")


# --- Main ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--token-requests", type=int, default=800, help="codes exchanged (and refreshed) per round")
    parser.add_argument("--token-concurrency", type=int, default=4)
    parser.add_argument("--only", choices=["ours", "sdk", "bare"], action="append", help="servers to measure")
    parser.add_argument("--ours-env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment for our server, e.g. LOG_LEVEL=WARNING or METRICS_ENABLED=false")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:VAR=VALUE[,VAR=VALUE]",
                        help="also measure our server with this environment, alternating with the others, e.g. "
                        "quiet:LOG_LEVEL=WARNING (MCP scenarios only)")
    parser.add_argument("--jwt-algorithm", action="append", default=[], choices=["ES256", "RS256"],
                        help="also measure our server with access tokens signed with this algorithm (a variant "
                        "named after it; HS256 is the default server), e.g. --jwt-algorithm ES256")
    parser.add_argument("--skip-token-endpoint", action="store_true", help="only the repeatable scenarios")
    args = parser.parse_args()
    args.variant += [f"{algorithm.lower()}:JWT_ALGORITHM={algorithm}" for algorithm in args.jwt_algorithm]
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        raise SystemExit("make bench needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL; see tests/backends.sh)")

    workdir = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    dcr_token = f"bench-dcr-{uuid.uuid4().hex}"
    wanted = args.only or ["ours", "sdk", "bare"]
    servers: list[Server] = []
    try:
        ours_env = dict(item.split("=", 1) for item in args.ours_env)
        starters = {"ours": lambda: start_ours(workdir, dcr_token, ours_env), "sdk": lambda: start_sdk(workdir),
                    "bare": lambda: start_bare(workdir)}
        for variant in args.variant:
            name, _, assignments = variant.partition(":")
            env = dict(item.split("=", 1) for item in assignments.split(",") if item)
            VARIANTS.append(name)
            starters[name] = lambda name=name, env=env: start_ours(workdir, dcr_token, {**ours_env, **env}, name)
        servers = [starters[name]() for name in [*wanted, *VARIANTS]]
        setup = authorize_client(servers[0], dcr_token) if servers[0].name == "ours" else None
        for server in servers:
            if server.name in VARIANTS:
                authorize_client(server, dcr_token)
        for server in servers:  # warm-up: imports, connection pools, caches
            run_wrk(f"{server.base_url}/mcp", *MCP_SCENARIOS["tools/call echo"], token=server.token, duration=2,
                    connections=args.connections)
        before = {s.name: [rss_mb(pid) for pid in s.worker_pids()] for s in servers}
        runs: list[dict] = []
        for round_number in range(args.rounds):
            order = servers[round_number % len(servers):] + servers[:round_number % len(servers)]
            for server in order:
                if server.name == "ours" and setup and not args.skip_token_endpoint:
                    for scenario, result in run_token_scenarios(server, setup, args.token_requests,
                                                                args.token_concurrency).items():
                        runs.append({"round": round_number, "server": "ours", "scenario": scenario, **result})
                        report(runs[-1])
                for scenario in server.scenarios:
                    if scenario in ("authorize", "token: code exchange", "token: refresh"):
                        continue
                    result = with_cpu(server, lambda: run_scenario(server, scenario, args, setup, dcr_token))
                    runs.append({"round": round_number, "server": server.name, "scenario": scenario, **result})
                    report(runs[-1])
        after = {s.name: [rss_mb(pid) for pid in s.worker_pids()] for s in servers}
        memory = {
            s.name: {"before": before[s.name], "after": after[s.name],
                     "growth_mb": round(max(a - b for a, b in zip(after[s.name], before[s.name])), 1)
                     if len(after[s.name]) == len(before[s.name]) else None,
                     "requests": sum(r["requests"] for r in runs if r["server"] == s.name)}
            for s in servers
        }
        summary = summarize(runs)
        ratio = ratios(summary)
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps({"machine": machine(), "settings": vars(args), "workers": WORKERS,
                                   "summary": summary, "ratios": ratio, "memory": memory, "runs": runs}, indent=2))
        print_table(summary, ratio, memory)
        print(f"\nresults: {out.relative_to(ROOT)}   logs: {workdir}")
    finally:
        for server in servers:
            server.stop()


def report(run: dict) -> None:
    note = f"  first error: {run['first_error'][:160]}" if run.get("errors") else ""
    print(f"round {run['round']} {run['server']:5} {run['scenario']:22} {run['rps']:9.1f} req/s  "
          f"p50 {run['p50_ms']:6.2f} ms  p99 {run['p99_ms']:6.2f} ms  CPU {run['cpu_ms_per_request']} ms/req  "
          f"errors {run['errors']}{note}", flush=True)


if __name__ == "__main__":
    main()
