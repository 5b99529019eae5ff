"""Opaque list cursors: an offset into the sorted list, base64url so that clients treat it as a token."""

import base64
from typing import Any

from mcp_app.jsonrpc import INVALID_PARAMS, JsonRpcError


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "offset" or not number.isdigit():
            raise ValueError(raw)
        return int(number)
    except (TypeError, ValueError, UnicodeDecodeError):
        raise JsonRpcError(INVALID_PARAMS, "Invalid cursor") from None
