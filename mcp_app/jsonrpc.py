"""JSON-RPC 2.0 messages as MCP uses them: one message per POST, no batches.

`parse_message` turns a request body into a `Request`, `Notification` or `Response`, or raises
`JsonRpcError` with the code the specification names (-32700 unparsable, -32600 invalid).
MCP messages are UTF-8 text: a body that is not, or whose escapes name a lone UTF-16 surrogate
("\\ud800", text no encoder can write, I-JSON RFC 7493 section 2.1), is a parse error, so that no
such string reaches a tool, a log line, Redis or PostgreSQL.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RESOURCE_NOT_FOUND = -32002  # 2025-11-25 and earlier; 2026-07-28 uses INVALID_PARAMS
HEADER_MISMATCH = -32020  # 2026-07-28
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021  # 2026-07-28
UNSUPPORTED_PROTOCOL_VERSION = -32022  # 2026-07-28

RequestId = str | int

# A \uD800-\uDFFF escape: only then can the parsed message hold a lone surrogate (pairs are joined).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")


class JsonRpcError(Exception):
    """An error answered to the client as a JSON-RPC error object. The message is shown to the client:
    never put internals in it."""

    def __init__(self, code: int, message: str, data: Any = None, *, id: RequestId | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.id = id

    def as_error(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    method: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """A client's answer to a server-to-client request (sampling, elicitation, roots)."""

    id: RequestId
    result: Any = None
    error: dict | None = None


Message = Request | Notification | Response


def is_valid_id(value: Any) -> bool:
    # MCP forbids null ids; bool is an int subclass in Python but not a JSON-RPC id.
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def parse_message(body: bytes) -> Message:
    """Decode one JSON-RPC message (the body is parsed exactly once)."""
    try:
        text = body.decode("utf-8-sig")  # strict: refuses invalid UTF-8, surrogates encoded as bytes too
        data = json.loads(text)  # not orjson: it turns integers past 64 bits into floats
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: hostile nesting depth
        raise JsonRpcError(PARSE_ERROR, "Parse error: the body is not valid JSON") from None
    if SURROGATE_ESCAPE.search(text) and holds_lone_surrogate(data):
        raise JsonRpcError(PARSE_ERROR, "Parse error: the body escapes a lone UTF-16 surrogate, which is not "
                           "Unicode text")
    if isinstance(data, list):
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: batches are not supported, send one message per POST")
    if not isinstance(data, dict):
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: the message must be a JSON object")
    message_id = data.get("id")
    reply_id = message_id if is_valid_id(message_id) else None
    if data.get("jsonrpc") != "2.0":
        raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', id=reply_id)
    if "method" in data:
        method = data["method"]
        params = data.get("params", {})
        if not isinstance(method, str) or not method:
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "method" must be a non-empty string', id=reply_id)
        if not isinstance(params, dict):
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "params" must be an object', id=reply_id)
        if "id" not in data:
            return Notification(method, params)
        if reply_id is None:
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer')
        return Request(message_id, method, params)
    if reply_id is not None and ("result" in data) != ("error" in data):
        error = data.get("error")
        if error is None or isinstance(error, dict):
            return Response(message_id, data.get("result"), error)
    raise JsonRpcError(
        INVALID_REQUEST, "Invalid Request: not a JSON-RPC request, notification or response", id=reply_id
    )


def holds_lone_surrogate(data: Any) -> bool:
    """Whether any string of a parsed JSON value (keys included) holds a lone surrogate; iterative, since
    the value may nest as deep as the parser allowed."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def result_message(request_id: RequestId, result: dict) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_message(error: JsonRpcError, request_id: RequestId | None = None) -> dict:
    """An error response; the id is null when the request's id could not be read."""
    return {"jsonrpc": "2.0", "id": request_id if request_id is not None else error.id, "error": error.as_error()}


def encode(message: dict) -> bytes:
    """The answer's bytes, encoded once. orjson (~5x faster than json) writes what json would, compact and
    UTF-8; what it refuses (a lone surrogate in a tool's own output, an integer past 64 bits) json writes."""
    try:
        return orjson.dumps(message)
    except TypeError:
        pass
    try:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: JSON can still escape it
        return json.dumps(message, separators=(",", ":")).encode()
