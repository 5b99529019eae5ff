"""Our server set up for load (the benchmarks and the soak): gunicorn on a fresh database, rate limits
raised, a user who can sign in; and the /proc readings the measurements take of its processes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.servers import drop_database, free_port, make_deployment, stop_process

WORKERS = 2
USERNAME, PASSWORD = "bench-user", "bench-password-0123456789"
UNLIMITED = "1000000000"


@dataclass
class Server:
    name: str
    port: int
    master: subprocess.Popen
    scenarios: list[str] = field(default_factory=list)  # what a benchmark measures on it
    token: str = ""
    env: dict = field(default_factory=dict)
    cleanup: list = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return child_pids(self.master.pid)

    def stop(self) -> None:
        stop_process(self.master)
        for action in self.cleanup:
            action()


def child_pids(parent: int) -> list[int]:
    """The worker processes of a server: the master's children (not multiprocessing's helpers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"resource_tracker" not in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used: unlike req/s, it does not depend on what else
    the machine is running."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def start_server(workdir: Path, dcr_token: str, extra_env: dict[str, str] | None = None,
                 name: str = "ours", route_database: Callable[[str], str] | None = None) -> Server:
    """Our server under gunicorn (WORKERS sync workers) with USERNAME able to sign in; its log in workdir.
    `route_database` turns the new database's URL into the one the server uses (e.g. through PgBouncer)."""
    port = free_port()
    deployment = make_deployment(
        workdir, port, RATE_LIMIT_OAUTH_MAX=UNLIMITED, RATE_LIMIT_MCP_MAX=UNLIMITED, RATE_LIMIT_LOGIN_MAX=UNLIMITED,
        DCR_AUTH_TOKEN=dcr_token, GUNICORN_LOG_LEVEL="warning", **(extra_env or {}),
    )
    if route_database:
        deployment.env["DATABASE_URL"] = route_database(deployment.database_url)
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{USERNAME}', password='{PASSWORD}')")
    master = deployment.start_gunicorn(port, workers=WORKERS, log_path=workdir / f"{name}.log")
    server = Server(name, port, master)
    server.env = deployment.env
    server.cleanup.append(lambda: drop_database(deployment.database_url))
    return server
