"""gunicorn's listening sockets (deploy/gunicorn.conf.py): threaded workers listen on one socket each
(SO_REUSEPORT), so the kernel spreads kept-alive connections over them; sync workers share one socket."""

import http.client
import os
from pathlib import Path

import pytest

from harness.load import child_pids
from harness.servers import drop_database, free_port, make_deployment

LISTEN, ESTABLISHED = "0A", "01"


def tcp_sockets(port: int, state: str) -> set[str]:
    """The inodes of this host's TCP sockets bound locally to `port` in `state` (/proc/net/tcp and tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def socket_inodes_of(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


@pytest.fixture
def deployment(tmp_path):
    port = free_port()
    deployment = make_deployment(tmp_path, port)
    deployment.port = port
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the kernel's socket tables (Linux)")
def test_threaded_workers_each_listen_and_share_kept_alive_connections(deployment):
    master = deployment.start_gunicorn(deployment.port, workers=2, extra_env={"GUNICORN_THREADS": "4"})
    assert len(tcp_sockets(deployment.port, LISTEN)) == 2  # one listening socket per worker
    connections = [http.client.HTTPConnection("127.0.0.1", deployment.port, timeout=10) for _ in range(16)]
    try:
        for connection in connections:  # all opened at once and kept alive, like nginx's upstream pool
            connection.request("GET", "/health")
            assert connection.getresponse().read()
        established = tcp_sockets(deployment.port, ESTABLISHED)
        held = [len(socket_inodes_of(pid) & established) for pid in child_pids(master.pid)]
        # The kernel hashes each connection to a worker's socket: all 16 on one worker has odds of 2 in 65,536.
        assert sum(held) == 16 and min(held) > 0, held
    finally:
        for connection in connections:
            connection.close()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the kernel's socket tables (Linux)")
def test_sync_workers_share_one_socket_so_a_connection_never_waits_behind_a_busy_worker(deployment):
    deployment.start_gunicorn(deployment.port, workers=2, extra_env={"GUNICORN_THREADS": "1"})
    assert len(tcp_sockets(deployment.port, LISTEN)) == 1
