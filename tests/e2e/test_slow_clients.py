"""Slow clients cannot take gunicorn's workers away from everybody else, with the shipped deploy/nginx.conf
in front of gunicorn started from deploy/gunicorn.conf.py's defaults (2 workers, threads as shipped).

An attacker holds many connections that send their headers or body a byte at a time, or stop half way:
nginx buffers every request body (/mcp included) and cuts off clients slower than its timeouts, so no
gunicorn thread ever waits for them, and /health and an authenticated tools/call stay prompt. Directly
against gunicorn, long streaming tool calls (an elicitation that nobody answers holds its event stream
open) take one thread each, not a worker: other requests are still answered at once.
"""

import json
import socket
import ssl
import threading
import time

import pytest
import requests

from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.e2e.official_tools import access_token
from harness.nginx import start_nginx
from harness.servers import drop_database, free_port, make_deployment
from tests.support.binaries import require_binary

pytestmark = [pytest.mark.e2e, pytest.mark.needs_nginx]

WORKERS = 2
DCR_TOKEN = "slow-clients-dcr-token-0123456789abcdef"
PROTOCOL_VERSION = "2025-11-25"
# deploy/nginx.conf's client_header_timeout and client_body_timeout are 10 s: the attack lasts longer.
ATTACK_SECONDS = 13.0
TRICKLE_SECONDS = 0.5  # a byte per connection this often: slower than any real client, faster than the timeouts
PROMPT_SECONDS = 2.0
# Fewer long calls than one worker's threads (so whichever worker takes them keeps a thread free), more
# than there are workers (so sync workers would all be taken).
STREAMING_CALLS = 3
CLIENT_REQUEST_TIMEOUT = 8  # the unanswered elicitations end by themselves after this long


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """gunicorn with the config file's default worker class and threads, and alice's access token."""
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("slow-clients"), port, DCR_AUTH_TOKEN=DCR_TOKEN,
                                 MCP_CONFORMANCE_FIXTURES="true", GUNICORN_GRACEFUL_TIMEOUT="3",
                                 MCP_CLIENT_REQUEST_TIMEOUT=str(CLIENT_REQUEST_TIMEOUT))
    deployment.env.pop("GUNICORN_THREADS", None)  # what ships is what is tested
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{TEST_USERNAME}', password='{TEST_PASSWORD}')")
    deployment.port = port
    try:
        deployment.start_gunicorn(port, workers=WORKERS,
                                  log_path=tmp_path_factory.mktemp("slow-clients-logs") / "gunicorn.log")
        deployment.token = access_token(f"http://127.0.0.1:{port}/mcp", DCR_TOKEN)
        yield deployment
    finally:
        deployment.stop()
        drop_database(deployment.database_url)


@pytest.fixture(scope="module")
def proxy(site, tmp_path_factory):
    """deploy/nginx.conf in front of that gunicorn."""
    binaries = require_binary("nginx", "nginx-light"), require_binary("openssl", "openssl")
    server = start_nginx(*binaries, tmp_path_factory.mktemp("nginx"), f"127.0.0.1:{site.port}",
                         tmp_path_factory.mktemp("static"))
    yield server
    server.stop()


def mcp_headers(token: str, accept: str = "application/json, text/event-stream") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": accept,
            "MCP-Protocol-Version": PROTOCOL_VERSION}


def tool_call(name: str, arguments: dict, request_id: int = 1) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                       "params": {"name": name, "arguments": arguments}})


def timed_probes(base_url: str, token: str, verify: str | bool = True) -> list[tuple[str, int, float]]:
    """/health and an authenticated tools/call: (what, status, seconds) of each."""
    results = []
    for name, send in (
        ("health", lambda: requests.get(f"{base_url}/health", verify=verify, timeout=10)),
        ("tools/call", lambda: requests.post(f"{base_url}/mcp", data=tool_call("echo", {"message": "still here"}),
                                             headers=mcp_headers(token, "application/json"), verify=verify,
                                             timeout=10)),
    ):
        started = time.monotonic()
        try:
            status = send().status_code
        except requests.RequestException:
            status = 0
        results.append((name, status, time.monotonic() - started))
    return results


# --- Many slow connections through nginx --------------------------------------------------------------------

class SlowConnection:
    """One attacker connection to nginx over TLS: `head` at once, then `trickle` a byte at a time."""

    def __init__(self, proxy, head: bytes, trickle: bytes):
        context = ssl.create_default_context(cafile=proxy.certificate)
        raw = socket.create_connection(("127.0.0.1", proxy.https_port), timeout=5)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.sock.sendall(head)
        self.trickle = trickle
        self.sent = 0
        self.cut = False

    def send_a_byte(self) -> None:
        if self.cut or self.sent >= len(self.trickle):
            return
        try:
            self.sock.sendall(self.trickle[self.sent:self.sent + 1])
            self.sent += 1
        except OSError:
            self.cut = True

    def is_cut(self) -> bool:
        """Has nginx closed the connection (or answered it, with 408)?"""
        if self.cut:
            return True
        self.sock.settimeout(0.05)
        try:
            self.sock.recv(4096)  # b"" (closed) or a 408 answer: either way nginx is done with it
        except (TimeoutError, ssl.SSLWantReadError):
            return False
        except OSError:
            pass
        self.cut = True
        return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def open_slow_connections(proxy, token: str) -> dict[str, list[SlowConnection]]:
    """50 connections: headers a byte at a time, bodies a byte at a time (/mcp and OAuth endpoints), and
    bodies that stop half way."""
    body = tool_call("echo", {"message": "x" * 4000}).encode()
    mcp = {**mcp_headers(token), "Content-Length": str(len(body))}
    form = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "4000"}
    json_body = {"Content-Type": "application/json", "Content-Length": "4000"}
    endless_header = b"X-Padding: " + b"a" * 1000
    return {
        "slow headers": [SlowConnection(proxy, f"POST {path} HTTP/1.1\r\nHost: localhost\r\n".encode(),
                                        endless_header)
                         for path in ["/mcp"] * 10 + ["/oauth/token"] * 5 + ["/health"] * 5],
        "slow bodies": [SlowConnection(proxy, request_head("POST", "/mcp", mcp), body) for _ in range(10)]
        + [SlowConnection(proxy, request_head("POST", "/oauth/token", form), b"grant_type=" + b"a" * 3989)
           for _ in range(5)]
        + [SlowConnection(proxy, request_head("POST", "/oauth/register", json_body), b"{" + b" " * 3999)
           for _ in range(5)],
        "stalled bodies": [SlowConnection(proxy, request_head("POST", "/mcp", mcp) + body[:100], b"")
                           for _ in range(10)],
    }


def test_slow_headers_and_bodies_on_many_connections_through_nginx_leave_health_and_tools_call_prompt(
        site, proxy):
    connections = open_slow_connections(proxy, site.token)
    every = [connection for group in connections.values() for connection in group]
    assert len(every) == 50
    stop = threading.Event()

    def trickle():
        while not stop.wait(TRICKLE_SECONDS):
            for connection in every:
                connection.send_a_byte()

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    probes = []
    try:
        deadline = time.monotonic() + ATTACK_SECONDS
        while time.monotonic() < deadline:
            probes += timed_probes(proxy.https_url, site.token, verify=proxy.certificate)
            time.sleep(0.5)
        still_open = {group: sum(not connection.is_cut() for connection in members)
                      for group, members in connections.items()}
    finally:
        stop.set()
        trickler.join(timeout=5)
        for connection in every:
            connection.close()

    assert {(name, status) for name, status, _ in probes} == {("health", 200), ("tools/call", 200)}, probes
    slowest = max(seconds for _, _, seconds in probes)
    assert slowest < PROMPT_SECONDS, f"slowest answer took {slowest:.2f} s"
    assert len(probes) >= 10
    # Past nginx's timeouts: whoever never finished its headers, or went quiet in its body, was cut off;
    # a body still arriving (each pause shorter than the timeout) waits in nginx, not in gunicorn.
    assert still_open == {"slow headers": 0, "slow bodies": 20, "stalled bodies": 0}


# --- Long streaming calls, straight to gunicorn -------------------------------------------------------------

def sse_messages(response: requests.Response):
    data = []
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            yield json.loads("\n".join(data))
            data = []


def test_long_streaming_tool_calls_do_not_block_other_requests_on_gunicorn(site):
    base_url = f"http://127.0.0.1:{site.port}"
    streams, opening = [], []
    first_opened = time.monotonic()
    try:
        for request_id in range(STREAMING_CALLS):
            started = time.monotonic()
            stream = requests.post(f"{base_url}/mcp", data=tool_call("test_elicitation", {"message": "Who?"},
                                                                   request_id), headers=mcp_headers(site.token),
                                   stream=True, timeout=CLIENT_REQUEST_TIMEOUT + 20)
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            messages = sse_messages(stream)
            assert next(messages)["method"] == "elicitation/create"  # the call is running, and waits
            opening.append(time.monotonic() - started)
            streams.append((stream, messages))

        probes = [probe for _ in range(5) for probe in timed_probes(base_url, site.token)]

        # Every call was under way at once, and the other requests were answered while they all still were.
        assert max(opening) < PROMPT_SECONDS, f"a streaming call waited {max(opening):.2f} s for a thread"
        assert time.monotonic() - first_opened < CLIENT_REQUEST_TIMEOUT
        assert {(name, status) for name, status, _ in probes} == {("health", 200), ("tools/call", 200)}, probes
        slowest = max(seconds for _, _, seconds in probes)
        assert slowest < PROMPT_SECONDS, f"slowest answer took {slowest:.2f} s"
        for request_id, (_, messages) in enumerate(streams):  # and the streams end by themselves
            final = next(messages)
            assert final["id"] == request_id and ("result" in final or "error" in final)
    finally:
        for stream, _ in streams:
            stream.close()
