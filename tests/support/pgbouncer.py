"""A real PgBouncer in transaction mode on a loopback port in front of the suite's PostgreSQL: any database
name, trust authentication, each transaction on whichever server connection is free."""

from __future__ import annotations

import os
import socket
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness.servers import free_port, stop_process

# Fewer server connections than the clients that share them: transactions really move between connections.
SERVER_CONNECTIONS = 3


class PgBouncer:
    def __init__(self, binary: str, postgres_url: str):
        # Its own directory under /tmp: as root, PgBouncer runs as the postgres user, who cannot enter pytest's.
        workdir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        upstream = urlsplit(postgres_url)
        self.user = upstream.username or "postgres"
        self.log = workdir / "pgbouncer.log"
        (workdir / "users.txt").write_text(f'"{self.user}" ""\n')
        self.config = workdir / "pgbouncer.ini"
        self.config.write_text(
            "[databases]\n"
            f"* = host={upstream.hostname or '127.0.0.1'} port={upstream.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 200\n"
            f"ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.log}\npidfile = {workdir / 'pgbouncer.pid'}\n")
        self.process = None

    def start(self) -> None:
        # PgBouncer refuses to run as root: as root (CI), it switches to the database's system user.
        command = [self.binary, str(self.config)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
            os.chmod(self.workdir, 0o777)
            for path in self.workdir.iterdir():
                os.chmod(path, 0o666)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"pgbouncer exited with {self.process.returncode}: {self.log_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("pgbouncer did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def route(self, database_url: str) -> str:
        """The same database, reached through PgBouncer."""
        parts = urlsplit(database_url)
        return urlunsplit(parts._replace(netloc=f"{self.user}@127.0.0.1:{self.port}"))

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""
