"""Reference server: the official MCP Python SDK (`mcp` 2.3) `MCPServer`, stateless JSON, an echo tool, no auth.

Run by bench/run.py with the SDK's own virtualenv:
  tools/venv/bin/python -m uvicorn --app-dir bench sdk_server:app --workers 2 --port N --no-access-log
"""

from mcp.server.mcpserver import MCPServer

server = MCPServer("sdk-reference")


@server.tool()
def echo(message: str) -> str:
    """Echoes back the provided message."""
    return f"Echo: {message}"


app = server.streamable_http_app(json_response=True, stateless_http=True, host="127.0.0.1")
