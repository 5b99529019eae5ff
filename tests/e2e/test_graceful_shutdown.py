"""SIGTERM to gunicorn (what systemd, supervisor and `docker stop` send) lets the requests in flight finish.

The slow request is a real one, without a test-only endpoint in the product: a sign-in form posted to the
admin by a client that sends its body slowly. Django blocks reading that body (the CSRF check reads the
form), so the worker is mid-request for as long as the client takes. The signal is sent after the first
half of the body; the rest is sent once gunicorn has logged that it is shutting down.
"""

import os
import re
import signal
import socket
import time
from urllib.parse import urlencode

import pytest
import requests

from harness.servers import drop_database, free_port, make_deployment

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    deployment = make_deployment(tmp_path_factory.mktemp("graceful"), free_port())
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


def login_form(base_url: str) -> tuple[str, bytes]:
    """The CSRF cookie and a filled-in (wrong-password) admin sign-in form."""
    page = requests.get(f"{base_url}/admin/login/", timeout=10)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    body = urlencode({"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong-password",
                      "next": "/admin/"}).encode()
    return page.cookies["csrftoken"], body


def wait_for_log(path, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"gunicorn never logged {text!r}:\n{path.read_text()}")


@pytest.mark.parametrize("threads", [1, 4], ids=["sync-worker", "gthread-worker"])
def test_sigterm_lets_the_request_in_flight_finish_with_200(environment, tmp_path, threads):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    gunicorn = environment.start_gunicorn(port, workers=1, log_path=log,
                                          extra_env={"GUNICORN_THREADS": str(threads)})
    cookie, body = login_form(f"http://127.0.0.1:{port}")
    half = len(body) // 2

    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(
        f"POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: csrftoken={cookie}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n".encode() + body[:half]
    )
    time.sleep(0.5)  # the worker has the headers and is blocked reading the body
    os.kill(gunicorn.pid, signal.SIGTERM)
    wait_for_log(log, "Handling signal: term")

    for start in range(half, len(body), 16):  # the rest, slowly
        client.sendall(body[start:start + 16])
        time.sleep(0.05)
    response = b""
    while chunk := client.recv(65536):
        response += chunk
    client.close()

    status_line = response.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 200 OK", response[:500]
    assert b"Please enter the correct username and password" in response
    assert gunicorn.wait(timeout=30) == 0
