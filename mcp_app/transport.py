"""Streamable HTTP rules for /mcp: what a POST must look like and how each answer is written (the one
writer of /mcp answers: plain JSON, event streams, errors and challenges).

Errors: JSON-RPC errors keep HTTP 200 where the legacy versions expect it; transport failures are 4xx
with a JSON-RPC error body (id null when it could not be read); 2026-07-28 maps codes to statuses
(-32601 → 404, -32602/-32020/-32022 → 400) as its transport page and the official SDK do. A server
fault (-32603) is a 500 in every version, so that operators' 5xx counts see it.
"""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from rest_framework.exceptions import AuthenticationFailed, MethodNotAllowed, NotAuthenticated, Throttled

from common.errors import too_many_requests
from common.logging import current_request_id
from mcp_app import jsonrpc
from mcp_app.authentication import bearer_sent, challenge_response
from mcp_app.jsonrpc import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
    JsonRpcError,
)
from mcp_app.dispatch import AuthenticationRequired, InsufficientScope

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
ALWAYS_400 = {PARSE_ERROR, INVALID_REQUEST, HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY,
              UNSUPPORTED_PROTOCOL_VERSION}
MODERN_STATUSES = {INVALID_PARAMS: 400, METHOD_NOT_FOUND: 404}


class HttpError(Exception):
    """A transport failure: this status, with a JSON-RPC error body without id."""

    def __init__(self, status: int, message: str, code: int = INVALID_REQUEST):
        super().__init__(message)
        self.status = status
        self.error = JsonRpcError(code, message)


def status_for(code: int, modern: bool) -> int:
    if code in ALWAYS_400:
        return 400
    if code == INTERNAL_ERROR:
        return 500
    return MODERN_STATUSES.get(code, 200) if modern else 200


def json_response(message: dict, *, modern: bool, status: int | None = None) -> HttpResponse:
    if status is None:
        status = status_for(message["error"]["code"], modern) if "error" in message else 200
    return HttpResponse(jsonrpc.encode(message), status=status, content_type="application/json")


def event_stream(frames) -> StreamingHttpResponse:
    """A call's messages as they come, then its response (the status is 200: it is sent before the result)."""
    response = StreamingHttpResponse(frames, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def write(answer: dict | HttpResponseBase, *, modern: bool) -> HttpResponseBase:
    """A call's answer (mcp_app.streams.answer): a JSON-RPC message, or an event stream under way."""
    return answer if isinstance(answer, HttpResponseBase) else json_response(answer, modern=modern)


def accepted() -> HttpResponse:
    """Notifications and responses: 202 with no body."""
    return HttpResponse(status=202, content_type=None)


# --- Checks, in the order the view applies them --------------------------------------------------
def origin_allowed(origin: str) -> bool:
    allowed = settings.ALLOWED_ORIGINS
    if "*" in allowed or origin in allowed:
        return True
    issuer = urlsplit(settings.OAUTH_ISSUER)
    parts = urlsplit(origin.lower())
    if parts.scheme and (parts.scheme, parts.netloc) == (issuer.scheme, issuer.netloc.lower()):
        return True
    return not settings.IS_PRODUCTION and parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS


def check_origin(request) -> None:
    """DNS-rebinding protection: a present Origin must be one we trust (browsers always send it)."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin is not None and not origin_allowed(origin):
        raise HttpError(403, "Forbidden: this Origin may not call the MCP endpoint")


class QueryStringToken(Exception):
    """An access token in the URL (RFC 6750 section 2.3, forbidden by OAuth 2.1 and MCP)."""


def refuse_query_token(request) -> None:
    query = request.META.get("QUERY_STRING", "")
    if "access_token" in query and "access_token" in request.GET:
        raise QueryStringToken()


def check_accept(request) -> None:
    accept = request.META.get("HTTP_ACCEPT", "")
    if accept and not any(kind in accept for kind in ("application/json", "*/*", "application/*", "text/event-stream")):
        raise HttpError(406, "Not Acceptable: accept application/json (and optionally text/event-stream)")


def read_body(request) -> bytes:
    """The body, at most MCP_MAX_BODY_BYTES (413 beyond), sent as application/json (415 otherwise)."""
    limit = settings.MCP_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "Invalid Request: bad Content-Length") from None
    if declared > limit:
        raise HttpError(413, f"Request body too large: the limit is {limit} bytes")
    if request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/json":
        raise HttpError(415, "Unsupported Media Type: send application/json")
    body = request._request.read(limit + 1)  # bounded even if Content-Length lied
    if len(body) > limit:
        raise HttpError(413, f"Request body too large: the limit is {limit} bytes")
    return body


def error_response(exc: Exception, request, *, modern: bool) -> HttpResponse:
    """Every failure of a /mcp request as the answer the client gets."""
    if isinstance(exc, HttpError):
        return json_response(jsonrpc.error_message(exc.error), modern=modern, status=exc.status)
    if isinstance(exc, JsonRpcError):
        return json_response(jsonrpc.error_message(exc), modern=modern)
    if isinstance(exc, (NotAuthenticated, AuthenticationFailed, AuthenticationRequired)):
        return challenge_response("invalid_token" if bearer_sent(request) else None)
    if isinstance(exc, QueryStringToken):
        return challenge_response("invalid_request")
    if isinstance(exc, InsufficientScope):
        return challenge_response("insufficient_scope", scopes=sorted({*settings.OAUTH_DEFAULT_SCOPES, *exc.needed}))
    if isinstance(exc, Throttled):
        return too_many_requests("mcp", exc.wait or 1, request)
    if isinstance(exc, MethodNotAllowed):
        return json_response(jsonrpc.error_message(JsonRpcError(INVALID_REQUEST, "Method Not Allowed: POST one "
                             "JSON-RPC message; this server keeps no sessions or streams")), modern=modern, status=405)
    logger.exception("internal error on /mcp (request id %s)", current_request_id())
    return json_response(jsonrpc.error_message(JsonRpcError(INTERNAL_ERROR, "Internal error")), modern=modern)
