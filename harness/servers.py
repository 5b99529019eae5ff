"""Real server processes for the end-to-end tests and the benchmarks: a fresh database, `manage.py` commands,
gunicorn.

Every server gets its own database (a new PostgreSQL database when the suite runs on PostgreSQL,
else an SQLite file) and its own Redis key prefix, so tests never see each other's state.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# The e2e servers use another Redis database than the unit tests, whose fixture flushes its own.
E2E_REDIS_DB = 14
TEST_JWT_SECRET = "e2e-jwt-secret-0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrations_fingerprint() -> str:
    """Changes whenever a migration of ours changes, so a stale template is never reused."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def postgres_admin_url(base: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path="/postgres"))


def ensure_template_database(base: str) -> str:
    """A migrated PostgreSQL database to clone: `CREATE DATABASE … TEMPLATE` takes a fraction of a
    second, where running every migration for each new server takes several."""
    import psycopg

    name = f"mcp_e2e_template_{migrations_fingerprint()}"
    with psycopg.connect(postgres_admin_url(base), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return name
        building = f"{name}_building_{uuid.uuid4().hex[:6]}"
        conn.execute(f'CREATE DATABASE "{building}"')
    url = urlunsplit(urlsplit(base)._replace(path=f"/{building}"))
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "DATABASE_URL": url, "REDIS_URL": ""}, timeout=300)
    with psycopg.connect(postgres_admin_url(base), autocommit=True) as conn:
        try:
            conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        except psycopg.errors.DuplicateDatabase:  # another process built it first
            conn.execute(f'DROP DATABASE "{building}"')
    return name


def create_database_url(tmp_path: Path) -> str:
    """A new, migrated database of the kind the suite runs on."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "DATABASE_URL": url}, timeout=300)
        return url
    import psycopg

    template = ensure_template_database(base)
    name = f"mcp_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def drop_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(postgres_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def e2e_redis_url() -> str:
    base = os.environ.get("REDIS_URL", "")
    if not base:
        return ""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))


@dataclass
class Deployment:
    """The environment of one deployment (database, cache prefix, issuer) and what runs against it."""

    env: dict[str, str]
    database_url: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def manage(self, *args: str, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def start_gunicorn(self, port: int, workers: int = 2, extra_env: dict | None = None,
                       log_path: Path | None = None) -> subprocess.Popen:
        env = {**self.env, "PORT": str(port), "GUNICORN_WORKERS": str(workers), **(extra_env or {})}
        log = open(log_path, "w") if log_path else subprocess.DEVNULL
        process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "mcpsite.wsgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        wait_for_http(f"http://127.0.0.1:{port}/health", process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process)
        self.processes.clear()


def make_deployment(tmp_path: Path, port: int, **overrides: str) -> Deployment:
    """A fresh migrated database and the environment a server for http://127.0.0.1:PORT runs with."""
    database_url = create_database_url(tmp_path)
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": e2e_redis_url(),
        "CACHE_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}",
        "JWT_SECRET": TEST_JWT_SECRET,
        "OAUTH_ISSUER": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "RATE_LIMIT_OAUTH_MAX": "100000",
        "RATE_LIMIT_MCP_MAX": "100000",
        "RATE_LIMIT_LOGIN_MAX": "100000",
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    return Deployment(env=env, database_url=database_url)


def wait_for_http(url: str, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode} before answering {url}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
