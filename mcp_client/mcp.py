"""The MCP side of the wire: the protocol version the client speaks and reading JSON-RPC answers."""

from __future__ import annotations

import json

import requests

from mcp_client.errors import FlowError

PROTOCOL_VERSION = "2025-11-25"


def read_jsonrpc_response(response: requests.Response, request_id) -> dict:
    """The JSON-RPC response to `request_id`, from a JSON body or from an event stream."""
    if response.headers.get("Content-Type", "").startswith("text/event-stream"):
        for event in response.text.split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.splitlines() if line.startswith("data:"))
            if data:
                message = json.loads(data)
                if message.get("id") == request_id and ("result" in message or "error" in message):
                    return message
        raise FlowError(f"the event stream carries no response to request {request_id}")
    return response.json()


def tool_text(result: dict) -> str:
    """The text content of a tools/call result."""
    return "".join(item.get("text", "") for item in result.get("content", []) if item.get("type") == "text")
