"""Run deploy/nginx.conf as it is, on loopback: placeholders filled, a self-signed certificate, a private prefix.

The site file is the production one; only the surrounding main configuration (pid, logs, temp paths) is
written here, as /etc/nginx/nginx.conf would be on a server.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.servers import ROOT, free_port, stop_process

SITE_TEMPLATE = ROOT / "deploy" / "nginx.conf"
PLACEHOLDER = re.compile(r"\$\{(NGINX_[A-Z_]+)\}")


def render_site(values: dict[str, str]) -> str:
    """deploy/nginx.conf with its ${NGINX_*} placeholders filled (what envsubst does in production)."""
    template = SITE_TEMPLATE.read_text()
    missing = sorted(set(PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise AssertionError(f"no value for the placeholders {missing}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def self_signed_certificate(directory: Path, openssl: str) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def write_main_config(directory: Path, site: str) -> Path:
    """A main nginx.conf around the site file, with everything nginx writes kept inside `directory`."""
    (directory / "site.conf").write_text(site)
    mime_types = "include /etc/nginx/mime.types;" if os.path.exists("/etc/nginx/mime.types") else ""
    # As root, nginx's workers would drop to `nobody`, who cannot enter pytest's private tmp directory.
    user = "user root;" if os.geteuid() == 0 else ""
    config = directory / "nginx.conf"
    config.write_text(f"""
{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    {mime_types}
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/site.conf;
}}
""")
    return config


def config_test(nginx: str, config: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on a configuration (nginx prints its verdict on stderr)."""
    return subprocess.run([nginx, "-t", "-p", str(config.parent), "-c", str(config)],
                          capture_output=True, text=True, timeout=30)


@dataclass
class Nginx:
    process: subprocess.Popen
    directory: Path
    http_port: int
    https_port: int

    @property
    def https_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://localhost:{self.http_port}"

    @property
    def certificate(self) -> str:
        return str(self.directory / "cert.pem")

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)


def start_nginx(nginx: str, openssl: str, directory: Path, upstream: str, static_root: Path) -> Nginx:
    """deploy/nginx.conf serving https://localhost:<port> in front of `upstream` (host:port)."""
    cert, key = self_signed_certificate(directory, openssl)
    http_port, https_port = free_port(), free_port()
    site = render_site({
        "NGINX_SERVER_NAME": "localhost",
        "NGINX_UPSTREAM": upstream,
        "NGINX_HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "NGINX_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "NGINX_TLS_CERTIFICATE": str(cert),
        "NGINX_TLS_CERTIFICATE_KEY": str(key),
        "NGINX_STATIC_ROOT": str(static_root),
    })
    config = write_main_config(directory, site)
    checked = config_test(nginx, config)
    if checked.returncode != 0:
        raise AssertionError(f"nginx -t failed:\n{checked.stderr}")
    process = subprocess.Popen(
        [nginx, "-p", str(directory), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = Nginx(process, directory, http_port, https_port)
    wait_for_port(https_port, process)
    return server


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on {port} within {timeout} s")
