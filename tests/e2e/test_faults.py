"""Faults as they happen in production, against real processes this test owns:
- PostgreSQL restarted under load: while it is down, requests fail fast with 503 (never 500, never a hang);
  once it is back, the same gunicorn serves again without a restart.
- A gunicorn worker killed during registrations: every client answered with 201 exists afterwards, and no
  half-written client does (PostgreSQL transactions; the initial token's use count matches the clients)."""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from harness.load import child_pids
from harness.servers import drop_database, free_port, make_deployment
from mcp_client import McpOAuthClient, log_in_and_consent

pytestmark = pytest.mark.e2e

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USERNAME, PASSWORD = "fault-user", "fault-password-0123456789"


class OwnPostgres:
    """A throwaway PostgreSQL cluster on its own port (initdb refuses root: it runs as user postgres)."""

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            pytest.skip("PostgreSQL 15 server binaries are not installed")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mcp-faults-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/mcp"

    def run(self, binary: str, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / binary), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self) -> None:
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE mcp")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


def serve(tmp_path, **overrides):
    """A migrated deployment with a user and an unlimited initial access token, served by gunicorn."""
    port = free_port()
    deployment = make_deployment(tmp_path, port, **overrides)
    if "DATABASE_URL" in overrides:  # the test's own cluster: the clone made on the shared one is not needed
        drop_database(deployment.database_url)
        deployment.database_url = overrides["DATABASE_URL"]
        deployment.manage("migrate", "--noinput")
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{USERNAME}', password='{PASSWORD}')")
    initial = deployment.manage("issue_dcr_token", "--name", "faults").stdout.strip().splitlines()[-1]
    master = deployment.start_gunicorn(port, workers=2, log_path=tmp_path / "gunicorn.log")
    return deployment, f"http://127.0.0.1:{port}", initial, master


def register(base_url, initial, name="fault-client"):
    return requests.post(f"{base_url}/oauth/register", timeout=10, headers={"Authorization": f"Bearer {initial}"},
                         json={"client_name": name, "redirect_uris": ["http://127.0.0.1:9/cb"],
                               "token_endpoint_auth_method": "none"})


@pytest.fixture
def own_postgres():
    cluster = OwnPostgres()
    cluster.start()
    cluster.create_database()
    yield cluster
    cluster.destroy()


def test_postgres_restart_gives_fast_503s_then_recovery_without_restarting_gunicorn(tmp_path, own_postgres):
    deployment, base_url, initial, master = serve(tmp_path, DATABASE_URL=own_postgres.url)
    try:
        client = McpOAuthClient(f"{base_url}/mcp")
        client.discover()
        client.register(redirect_uri="http://127.0.0.1:9/cb", initial_access_token=initial)
        request = client.authorization_request()
        client.finish_authorization(request, log_in_and_consent(request.url, request.redirect_uri, USERNAME, PASSWORD))
        results, phase, stop = [], {"now": "up"}, threading.Event()

        def load(kind):
            while not stop.is_set():
                started = time.monotonic()
                try:
                    if kind == "register":
                        status = register(base_url, initial).status_code
                    elif kind == "health":
                        status = requests.get(f"{base_url}/health", timeout=10).status_code
                    else:
                        status = client.post_mcp(client.message("tools/call", {
                            "name": "echo", "arguments": {"message": "x"}})).status_code
                except requests.RequestException as exc:
                    status = type(exc).__name__
                results.append((phase["now"], kind, status, time.monotonic() - started))
                time.sleep(0.02)

        with ThreadPoolExecutor(4) as pool:
            for kind in ("register", "register", "health", "mcp"):
                pool.submit(load, kind)
            time.sleep(2)
            phase["now"] = "stopping"
            own_postgres.stop("fast")
            phase["now"] = "down"
            time.sleep(3)
            phase["now"] = "starting"
            own_postgres.start()
            phase["now"] = "recovering"
            time.sleep(2)
            phase["now"] = "back"
            time.sleep(2)
            stop.set()

        by_phase = {name: [r for r in results if r[0] == name] for name in ("up", "down", "back")}
        assert all(status in (200, 201) for _, _, status, _ in by_phase["up"]), Counter(r[2] for r in by_phase["up"])
        down_db = [r for r in by_phase["down"] if r[1] in ("register", "health")]
        assert down_db and all(status == 503 for _, _, status, _ in down_db), Counter(r[2] for r in down_db)
        assert max(duration for *_, duration in down_db) < 1.0  # fail fast: no waiting on a dead database
        assert all(r[2] != 500 for r in results), [r for r in results if r[2] == 500][:5]
        back = by_phase["back"]
        assert back and all(status in (200, 201) for _, _, status, _ in back), Counter(r[2] for r in back)
        assert master.poll() is None  # the same gunicorn, never restarted
    finally:
        deployment.stop()


def test_a_worker_killed_during_registrations_loses_no_answered_client_and_leaves_no_half_written_one(tmp_path):
    deployment, base_url, initial, master = serve(tmp_path)
    try:
        answered, errors, stop = [], Counter(), threading.Event()

        def keep_registering(n):
            while not stop.is_set():
                try:
                    response = register(base_url, initial, name=f"worker-kill-{n}")
                except requests.RequestException as exc:
                    errors[type(exc).__name__] += 1  # the killed worker's connection: no answer, no promise
                    continue
                if response.status_code == 201:
                    answered.append(response.json()["client_id"])
                else:
                    errors[response.status_code] += 1

        killed = 0
        with ThreadPoolExecutor(6) as pool:
            for n in range(6):
                pool.submit(keep_registering, n)
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                time.sleep(1.0)
                pids = child_pids(master.pid)
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed += 1
            stop.set()
        assert killed >= 4 and len(answered) > 20
        assert not [status for status in errors if isinstance(status, int) and status >= 500], errors

        with psycopg.connect(deployment.database_url) as conn:
            rows = conn.execute(
                "SELECT client_id, name, redirect_uris, registration_access_token_hash, registration_metadata, "
                "initial_access_token_id FROM oauth_app_client").fetchall()
            uses = conn.execute("SELECT uses FROM oauth_app_initialaccesstoken").fetchone()[0]
        stored = {row[0]: row for row in rows}
        assert set(answered) <= set(stored), "a client answered with 201 is missing"
        for client_id, name, redirect_uris, token_hash, metadata, token_id in rows:
            assert name.startswith("worker-kill-") and redirect_uris and len(token_hash) == 64 and metadata \
                and token_id, f"half-written client {client_id}"
        assert uses == len(rows)  # each use of the initial token produced exactly one complete client
    finally:
        deployment.stop()
        drop_database(deployment.database_url)
