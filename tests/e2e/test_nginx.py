"""deploy/nginx.conf, run by the Debian nginx on loopback with a self-signed certificate, in front of a real
gunicorn started with a safe production configuration.

What only a real proxy shows: /health through TLS, HTTP -> HTTPS, X-Forwarded-Proto and X-Forwarded-For
as Django reads them, the 413 size limit, Swagger UI's assets from /static/, and /mcp responses streamed
(request bodies buffered, as everywhere).
The streaming test puts a raw socket behind nginx instead of gunicorn, because the point there is when
nginx forwards each byte, which only a byte-level peer can observe.
"""

import http.client
import json
import re
import socket
import ssl
import threading
import time

import pytest
import requests

from harness.nginx import start_nginx
from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment
from tests.support.binaries import require_binary
from tests.support.production import safe_production_settings

pytestmark = [pytest.mark.e2e, pytest.mark.needs_nginx]

# A loopback address other than nginx's own, so the client's address differs from the proxy's.
CLIENT_ADDRESS = "127.0.0.5"


@pytest.fixture(scope="module")
def binaries():
    return require_binary("nginx", "nginx-light"), require_binary("openssl", "openssl")


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """gunicorn with ENVIRONMENT=production (SSL redirect on) and its static files collected."""
    redis_url = e2e_redis_url()
    if not redis_url:
        pytest.skip("production requires Redis; REDIS_URL is not set (make test sets it when Redis answers)")
    port = free_port()
    static_root = tmp_path_factory.mktemp("static")
    deployment = make_deployment(tmp_path_factory.mktemp("nginx-backend"), port, STATIC_ROOT=str(static_root),
                                 **safe_production_settings(redis_url))
    deployment.manage("collectstatic", "--noinput")
    deployment.port, deployment.static_root = port, static_root
    deployment.log_path = tmp_path_factory.mktemp("nginx-backend-logs") / "gunicorn.log"
    deployment.start_gunicorn(port, workers=2, log_path=deployment.log_path)
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


@pytest.fixture(scope="module")
def proxy(binaries, backend, tmp_path_factory):
    server = start_nginx(*binaries, tmp_path_factory.mktemp("nginx"), f"127.0.0.1:{backend.port}",
                         backend.static_root)
    yield server
    server.stop()


def https_get(proxy, path: str, **kwargs) -> requests.Response:
    return requests.get(f"{proxy.https_url}{path}", verify=proxy.certificate, timeout=10, **kwargs)


def request_line_for(backend, request_id: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in backend.log_path.read_text().splitlines():
            if '"mcpsite.request"' in line and f'"{request_id}"' in line:
                return json.loads(line)
        time.sleep(0.05)
    raise AssertionError(f"Django logged no request {request_id}")


def test_health_answers_through_nginx_over_https(proxy):
    response = https_get(proxy, "/health", headers={"X-Request-ID": "through-nginx-1"})
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.headers["X-Request-ID"] == "through-nginx-1"
    assert "nginx/" not in response.headers.get("Server", "")  # server_tokens off


def test_plain_http_is_redirected_to_https(proxy):
    response = requests.get(f"{proxy.http_url}/docs?x=1", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://localhost/docs?x=1"


def test_x_forwarded_proto_tells_django_the_request_was_https(backend, proxy):
    # In production Django redirects plain-http requests; the same page through nginx's TLS is served.
    direct = requests.get(f"http://127.0.0.1:{backend.port}/docs", allow_redirects=False, timeout=10)
    assert direct.status_code == 301
    assert direct.headers["Location"].startswith("https://")
    through_nginx = https_get(proxy, "/docs", allow_redirects=False)
    assert through_nginx.status_code == 200
    assert "SwaggerUIBundle" in through_nginx.text


def tls_request(proxy, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """One HTTPS request to nginx sent from CLIENT_ADDRESS."""
    context = ssl.create_default_context(cafile=proxy.certificate)
    connection = http.client.HTTPSConnection("localhost", proxy.https_port, context=context, timeout=10,
                                             source_address=(CLIENT_ADDRESS, 0))
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_x_forwarded_for_gives_django_the_clients_address(backend, proxy):
    response = tls_request(proxy, "/health", {"X-Request-ID": "forwarded-for-1"})
    assert response.status == 200
    # gunicorn's peer is nginx (127.0.0.1); Django logs the address nginx saw.
    assert request_line_for(backend, "forwarded-for-1")["client"] == CLIENT_ADDRESS


def test_a_client_cannot_choose_its_address_with_its_own_x_forwarded_for(backend, proxy):
    response = tls_request(proxy, "/health", {"X-Request-ID": "forwarded-for-2", "X-Forwarded-For": "203.0.113.9"})
    assert response.status == 200
    assert request_line_for(backend, "forwarded-for-2")["client"] == CLIENT_ADDRESS


def test_a_body_over_the_size_limit_is_refused_with_413_before_django(backend, proxy):
    response = requests.post(f"{proxy.https_url}/oauth/register", data=b"x" * (1024 * 1024 + 1),
                             headers={"Content-Type": "application/json", "X-Request-ID": "too-large-1"},
                             verify=proxy.certificate, timeout=10)
    assert response.status_code == 413
    time.sleep(0.2)
    assert "too-large-1" not in backend.log_path.read_text()


def test_swagger_ui_assets_are_served_by_nginx_from_static(proxy):
    page = https_get(proxy, "/docs").text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert len(assets) >= 3
    for asset in assets:
        response = https_get(proxy, asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 100


# --- /mcp responses stream: a byte-level peer behind nginx sees when each byte is forwarded --------------------------

class Upstream:
    """A one-connection HTTP peer on loopback that records what nginx forwards, and when."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self.connection = None

    def accept(self, timeout: float) -> bool:
        self.listener.settimeout(timeout)
        try:
            self.connection, _ = self.listener.accept()
        except TimeoutError:
            return False
        return True

    def read_until(self, marker: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while marker not in self.received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.connection.settimeout(remaining)
            try:
                chunk = self.connection.recv(65536)
            except TimeoutError:
                return False
            if not chunk:
                return False
            self.received += chunk
        return True

    def headers(self) -> dict[str, str]:
        head = self.received.split(b"\r\n\r\n", 1)[0].decode()
        return {name.lower(): value.strip() for name, _, value in
                (line.partition(":") for line in head.split("\r\n")[1:])}

    def close(self):
        if self.connection:
            self.connection.close()
        self.listener.close()


@pytest.fixture
def upstream():
    peer = Upstream()
    yield peer
    peer.close()


@pytest.fixture
def proxy_to_upstream(binaries, upstream, tmp_path):
    server = start_nginx(*binaries, tmp_path, f"127.0.0.1:{upstream.port}", tmp_path)
    yield server
    server.stop()


def open_tls(proxy) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=proxy.certificate)
    raw = socket.create_connection(("127.0.0.1", proxy.https_port), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def read_until(sock: ssl.SSLSocket, marker: bytes, timeout: float) -> bytes:
    received, deadline = b"", time.monotonic() + timeout
    while marker not in received and time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ssl.SSLError):
            break
        if not chunk:
            break
        received += chunk
    return received


def stream_exchange(proxy, upstream, path: str) -> tuple[bool, bool]:
    """(upstream saw the first half of the body before the client sent the rest,
        client saw the first event before the upstream sent the rest)."""
    client = open_tls(proxy)
    client.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                   f"Accept: text/event-stream\r\nX-Forwarded-For: 203.0.113.9\r\nContent-Length: 20\r\n\r\n"
                   "{\"half\": 1,".encode())
    request_streamed = upstream.accept(timeout=2) and upstream.read_until(b"{\"half\": 1,", timeout=2)
    client.sendall(b" \"xy\": 2}")  # the second half: 11 + 9 = 20 bytes
    if not upstream.connection:
        assert upstream.accept(timeout=5)
    assert upstream.read_until(b"\"xy\": 2}", timeout=5)
    upstream.connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n"
                                b"13\r\ndata: first event\n\n\r\n")
    response_streamed = b"data: first event" in read_until(client, b"data: first event", timeout=2)
    upstream.connection.sendall(b"14\r\ndata: second event\n\n\r\n0\r\n\r\n")
    rest = read_until(client, b"data: second event", timeout=5)
    assert b"data: second event" in rest
    client.close()
    return request_streamed, response_streamed


def test_mcp_streams_responses_but_buffers_request_bodies_so_a_slow_body_never_reaches_gunicorn(
        proxy_to_upstream, upstream):
    assert stream_exchange(proxy_to_upstream, upstream, "/mcp") == (False, True)


def test_mcp_reaches_the_app_with_the_forwarded_headers(proxy_to_upstream, upstream):
    stream_exchange(proxy_to_upstream, upstream, "/mcp")
    headers = upstream.headers()
    assert headers["host"] == "localhost"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"  # nginx appends the address it saw
    assert headers["x-real-ip"] == "127.0.0.1"
    assert re.match(r"^[0-9a-f]{32}$", headers["x-request-id"])


def test_other_paths_stay_buffered_which_is_what_makes_the_mcp_test_meaningful(proxy_to_upstream, upstream):
    assert stream_exchange(proxy_to_upstream, upstream, "/oauth/token") == (False, False)
