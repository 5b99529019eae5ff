"""The "retry later" answer (429 or 503 with Retry-After) in the format its caller understands.

This module knows no wire format: each app registers a writer for the paths it serves
(`register_retry_format`, from its AppConfig.ready()); other paths get a small HTML page.
"""

import logging
from collections.abc import Callable

from django.dispatch import Signal
from django.http import HttpResponse
from django.utils.html import escape

from common.http import client_address

logger = logging.getLogger(__name__)

# Sent on every rate-limit rejection (metrics count them): sender is the limit's name ("oauth", "mcp", "login").
rate_limited = Signal()

# writer(status, retry_after, message) -> HttpResponse, by path prefix.
RetryWriter = Callable[[int, int, str], HttpResponse]
retry_formats: dict[str, RetryWriter] = {}


def register_retry_format(prefix: str, writer: RetryWriter) -> None:
    retry_formats[prefix] = writer


def writer_for(path: str) -> RetryWriter | None:
    matches = [prefix for prefix in retry_formats if path.startswith(prefix)]
    return retry_formats[max(matches, key=len)] if matches else None


def retry_later(request, *, status: int, retry_after: int, title: str, message: str) -> HttpResponse:
    writer = writer_for(request.path_info)
    if writer is not None:
        response = writer(status, retry_after, message)
    else:
        response = HttpResponse(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title></head>"
            f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>",
            status=status, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response


def too_many_requests(limit: str, retry_after: float, request) -> HttpResponse:
    """429 for the limit named `limit`: logged, announced (rate_limited), in the caller's format."""
    retry_after = max(1, int(retry_after))
    rate_limited.send(sender=limit, request=request)
    logger.warning("rate limit %s exceeded by %s", limit, client_address(request),
                   extra={"event": "rate_limited", "details": {"limit": limit, "path": request.path}})
    return retry_later(request, status=429, retry_after=retry_after, title="Too many attempts",
                       message=f"Too many requests; retry after {retry_after} seconds.")
