"""Reference server: the official MCP Python SDK (`mcp` 2.3) `MCPServer`, stateless JSON, an echo tool, no auth.

Run by bench/run.py with the SDK's own virtualenv:
  tools/venv/bin/python -m uvicorn --app-dir bench sdk_server:app --workers 2 --port N --no-access-log
"""

import asyncio.base_events
import socket

from mcp.server.mcpserver import MCPServer


def set_nodelay(sock: socket.socket) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# With --workers, uvicorn hands each worker a socket rebuilt from a file descriptor, whose `proto` is 0,
# so asyncio skips TCP_NODELAY on accepted connections and every answer on a kept-alive connection waits
# ~40 ms for the client's delayed ACK (Nagle). Setting it measures the reference at its best.
asyncio.base_events._set_nodelay = set_nodelay

server = MCPServer("sdk-reference")


@server.tool()
def echo(message: str) -> str:
    """Echoes back the provided message."""
    return f"Echo: {message}"


app = server.streamable_http_app(json_response=True, stateless_http=True, host="127.0.0.1")
