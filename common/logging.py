"""Request ids and log formatting: JSON lines in production, readable text in development.

Every format keeps one record on one line whatever the input: JSON escapes by construction, the text
format escapes control, bidi and surrogate characters in the message and indents tracebacks, and
gunicorn's access line (a JSON template it fills with raw request fields) gets its fields JSON-escaped.
"""

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import datetime, timezone

from django.conf import settings
from gunicorn.glogging import Logger as GunicornBaseLogger, SafeAtoms

from common.http import client_address

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
request_logger = logging.getLogger("mcpsite.request")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# What a terminal or a log viewer would act on: C0/C1 controls (newlines, escape sequences), line and
# paragraph separators, bidi and zero-width controls, the byte-order mark, and lone surrogates.
UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
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
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH],
        },
    )


def escape_unsafe(text: str) -> str:
    """`\\n`, `\\x1b`, `\\u202e` in place of the characters themselves."""
    return UNSAFE_CHARACTERS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "client", "user_agent", "event")
USER_AGENT_LENGTH = 256


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


class TextFormatter(logging.Formatter):
    """Readable lines for development, one per record: the message is escaped (a user name or a path
    holding a newline cannot forge a line) and traceback lines are indented under their record."""

    def __init__(self, fmt: str = TEXT_FORMAT, **kwargs):
        super().__init__(fmt, **kwargs)

    def format(self, record):
        record.message = escape_unsafe(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        blocks = [self.formatException(record.exc_info)] if record.exc_info else []
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        continuation = ["    " + escape_unsafe(line) for block in blocks for line in block.splitlines()]
        return "\n".join([self.formatMessage(record), *continuation])


class JsonEscapedAtoms(SafeAtoms):
    """gunicorn's access-log fields, each escaped as a JSON string body. gunicorn's own SafeAtoms
    escapes only quotes, so a backslash or a %0A in a path or a user agent would break the JSON
    template (deploy/gunicorn.conf.py) or forge a whole line."""

    def __init__(self, atoms):
        dict.__init__(self, {name: json.dumps(value)[1:-1] if isinstance(value, str) else value
                             for name, value in atoms.items()})


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's logger (deploy/gunicorn.conf.py `logger_class`) with JSON-escaped access-log fields,
    writing access lines only when `accesslog` is set: gunicorn would also write them whenever a logging
    configuration is given (our JSON one), a second line per request next to the application's."""

    atoms_wrapper_class = JsonEscapedAtoms

    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)
