"""Redis servers owned by one test: a primary, its replicas and the sentinels watching them, each on its own
loopback port with nothing saved to disk, so stopping or failing one over touches nobody else."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from harness.servers import free_port, stop_process


class RedisServer:
    """`redis-server` on a port of its own; `extra` adds arguments (`--replicaof`, `--sentinel`…)."""

    def __init__(self, binary: str, port: int, extra: tuple[str, ...] = (), workdir: Path | None = None):
        self.binary, self.port, self.extra, self.process = binary, port, extra, None
        # A replica's full sync writes dump.rdb into the working directory: never the repository's.
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="redis-"))
        self.owns_workdir = workdir is None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, *self.extra, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server {' '.join(self.extra)} did not start on port {self.port}")

    def stop(self, *, for_good: bool = False) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        if for_good and self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)


class SentinelGroup:
    """A primary, one replica and `sentinels` sentinels (quorum 1) watching them under the name `master`."""

    def __init__(self, binary: str, workdir: Path, master: str = "e2e", sentinels: int = 2):
        self.master = master
        self.primary = RedisServer(binary, free_port(), workdir=workdir)
        self.replica = RedisServer(binary, free_port(), ("--replicaof", "127.0.0.1", str(self.primary.port)),
                                   workdir=workdir)
        self.sentinels = []
        for n in range(sentinels):
            config = workdir / f"sentinel-{n}.conf"  # a sentinel rewrites its configuration file
            config.write_text(
                f"dir {workdir}\n"
                f"sentinel monitor {master} 127.0.0.1 {self.primary.port} 1\n"
                f"sentinel down-after-milliseconds {master} 1000\n"
                f"sentinel failover-timeout {master} 10000\n")
            self.sentinels.append(RedisServer(binary, free_port(), (str(config), "--sentinel"), workdir=workdir))

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        self.wait_for(lambda: self.replica.client().info("replication")["master_link_status"] == "up")
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_for(lambda: all(self.known_replicas(sentinel) for sentinel in self.sentinels))

    def stop(self) -> None:
        for server in [*self.sentinels, self.replica, self.primary]:
            server.stop()

    def known_replicas(self, sentinel: RedisServer) -> list:
        return sentinel.client().sentinel_slaves(self.master)

    def primary_port(self) -> int:
        return int(self.sentinels[0].client().sentinel_get_master_addr_by_name(self.master)[1])

    def server_on(self, port: int) -> RedisServer:
        return self.primary if port == self.primary.port else self.replica

    def fail_over(self) -> RedisServer:
        """Promote the replica (SENTINEL FAILOVER) and wait until every sentinel and both servers agree."""
        old = self.primary_port()
        self.sentinels[0].client().execute_command("SENTINEL", "FAILOVER", self.master)
        self.wait_for(lambda: all(int(s.client().sentinel_get_master_addr_by_name(self.master)[1]) != old
                                  for s in self.sentinels))
        new = self.server_on(self.primary_port())
        demoted = self.server_on(old)
        self.wait_for(lambda: new.client().info("replication")["role"] == "master"
                      and demoted.client().info("replication")["role"] == "slave")
        return new

    @staticmethod
    def wait_for(condition, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (redis.RedisError, KeyError):
                pass
            time.sleep(0.1)
        raise AssertionError("the Redis servers did not reach the expected state in time")
