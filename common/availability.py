"""When PostgreSQL is unreachable, answer 503 with Retry-After at once (in the caller's format) instead
of a 500, and let the next request reconnect: Django's persistent connections are health-checked
(CONN_HEALTH_CHECKS), so a restarted database is picked up without restarting gunicorn."""

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver

from common.errors import retry_later

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
OUTAGE_ERRORS = (OperationalError, InterfaceError)


@receiver(got_request_exception)
def remember_database_outage(sender, request=None, **kwargs):
    """Django turns an exception into a 500 at whichever layer raised it; note why, for the middleware."""
    if request is not None and isinstance(sys.exc_info()[1], OUTAGE_ERRORS):
        request.database_unavailable = True


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code >= 500 and getattr(request, "database_unavailable", False):
            logger.error("database unavailable: %s %s answered 503", request.method, request.path)
            return retry_later(request, status=503, retry_after=RETRY_AFTER_SECONDS, title="Service unavailable",
                               message="The service is temporarily unavailable; retry shortly.")
        return response
