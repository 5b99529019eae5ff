"""MCP protocol versions, independent of HTTP: which version a POST speaks and what 2026-07-28 asks of it.

One endpoint serves two eras. Legacy versions (2025-03-26 … 2025-11-25) open with `initialize`;
being stateless, we answer every request on its own and remember nothing between them. The modern
version (2026-07-28) has no handshake: each request carries its version and capabilities in
`params._meta`, and the Mcp-* headers repeat the body so that proxies can route without parsing it.
"""

import base64
import binascii
from collections.abc import Mapping

from mcp_app import jsonrpc
from mcp_app.jsonrpc import HEADER_MISMATCH, INVALID_PARAMS, UNSUPPORTED_PROTOCOL_VERSION, JsonRpcError, Request

MODERN_VERSIONS = ("2026-07-28",)
LEGACY_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")  # newest first
SUPPORTED_VERSIONS = MODERN_VERSIONS + LEGACY_VERSIONS
# A request without MCP-Protocol-Version is a client older than 2025-06-18 (transports spec).
VERSION_WITHOUT_HEADER = "2025-03-26"

PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
# Methods whose Mcp-Name header mirrors a body parameter (2026-07-28).
NAME_PARAMETERS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri",
                   "tasks/get": "taskId", "tasks/update": "taskId", "tasks/cancel": "taskId"}


def is_modern(version: str) -> bool:
    return version in MODERN_VERSIONS


def version_from_header(value: str | None, message: jsonrpc.Message | None = None) -> str:
    """The version this POST speaks: its MCP-Protocol-Version header (400, -32022 if unsupported)."""
    if value is None:
        return VERSION_WITHOUT_HEADER
    if value not in SUPPORTED_VERSIONS:
        raise JsonRpcError(
            UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            {"supported": list(SUPPORTED_VERSIONS), "requested": value},
            id=getattr(message, "id", None),
        )
    return value


def decode_header_value(value: str | None) -> str | None:
    """Undo the `=?base64?…?=` encoding of Mcp-Name / Mcp-Param-* values (2026-07-28)."""
    if value is None or not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    try:
        return base64.b64decode(value[9:-2], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def check_modern_request(request: Request, version: str, headers: Mapping[str, str]) -> None:
    """2026-07-28: the _meta envelope is present and the Mcp-* headers repeat the body (else -32020)."""
    meta = request.params.get("_meta")
    if not isinstance(meta, dict) or PROTOCOL_VERSION_META_KEY not in meta or CLIENT_CAPABILITIES_META_KEY not in meta:
        raise JsonRpcError(
            INVALID_PARAMS,
            f"params._meta must carry {PROTOCOL_VERSION_META_KEY} and {CLIENT_CAPABILITIES_META_KEY}",
            id=request.id,
        )
    if meta[PROTOCOL_VERSION_META_KEY] != version:
        raise JsonRpcError(HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version differs from the body's "
                           "protocol version", id=request.id)
    if headers.get("Mcp-Method") != request.method:
        raise JsonRpcError(HEADER_MISMATCH, "Header mismatch: Mcp-Method is missing or differs from the body's "
                           "method", id=request.id)
    name_parameter = NAME_PARAMETERS.get(request.method)
    if name_parameter and decode_header_value(headers.get("Mcp-Name")) != request.params.get(name_parameter):
        raise JsonRpcError(HEADER_MISMATCH, f"Header mismatch: Mcp-Name is missing or differs from the body's "
                           f"{name_parameter}", id=request.id)
