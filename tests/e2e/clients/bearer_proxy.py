"""A loopback reverse proxy that adds `Authorization: Bearer <token>` to every request.

The conformance suite's `server` mode cannot send headers; through this proxy it tests the real,
OAuth-protected /mcp endpoint with a token from the real OAuth flow. Host and Origin pass through
unchanged (so the DNS-rebinding scenario still tests the server), and responses are streamed back
as they arrive (event streams included). Standard library only.

    python tests/e2e/clients/bearer_proxy.py --listen 8791 --upstream-port 8080 --token "$TOKEN"
"""

from __future__ import annotations

import argparse
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def make_handler(upstream_port: int, token: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet: pytest shows the server's log instead
            return

        def forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=300)
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "authorization":
                    upstream.putheader(name, value)
            upstream.putheader("Authorization", f"Bearer {token}")
            try:
                upstream.endheaders(body)
                response = upstream.getresponse()
            except OSError as error:
                self.send_error(502, f"upstream unreachable: {error}")
                return
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            # The body is relayed as it comes (an event stream has no length): close marks its end.
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                while chunk := response.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (it cancels a stream it has read enough of)
            finally:
                upstream.close()

        do_GET = do_POST = do_DELETE = do_PUT = do_OPTIONS = forward

    return Handler


class BearerProxy:
    """Serve on 127.0.0.1:<free port> in a background thread; `stop()` ends it."""

    def __init__(self, upstream_port: int, token: str, port: int = 0):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(upstream_port, token))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="bearer-proxy", daemon=True)

    def start(self) -> "BearerProxy":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, default=8791)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--token", required=True)
    options = parser.parse_args()
    proxy = BearerProxy(options.upstream_port, options.token, options.listen)
    print(f"bearer proxy on http://127.0.0.1:{proxy.port} -> 127.0.0.1:{options.upstream_port}", flush=True)
    proxy.server.serve_forever()
