"""Request ids and log formatting: JSON lines in production, readable text in development."""

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import datetime, timezone

from django.conf import settings

from common.http import client_address

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
request_logger = logging.getLogger("mcpsite.request")

# Honoured from the client only when it looks like an id: no spaces, quotes or control characters.
WELL_FORMED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str:
    return request_id_var.get()


class RequestIdMiddleware:
    """Gives every request an id (the caller's, if well formed), logs one line per request (LOG_REQUESTS)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if WELL_FORMED_REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            if settings.LOG_REQUESTS and request_logger.isEnabledFor(logging.INFO):
                log_request(request, response, started)
            return response
        finally:
            request_id_var.reset(token)


def log_request(request, response, started: float) -> None:
    request_logger.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "client": client_address(request),
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "client", "event")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request id and request fields."""

    def format(self, record):
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for field in REQUEST_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        details = getattr(record, "details", None)
        if details:
            entry["details"] = details
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
