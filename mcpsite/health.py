"""GET /health: is this instance able to serve? Checks the database and the configured cache."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any driver error means "not ok"; the reason is reported
        connection.close_if_unusable_or_obsolete()
        return f"error: {type(exc).__name__}"


def cache_check() -> str:
    try:
        cache.set("health:probe", "1", timeout=5)
        if cache.get("health:probe") != "1":
            return "error: value not read back"
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


@require_GET
def health(request):
    checks = {"database": database_check(), "cache": cache_check()}
    healthy = all(result == "ok" for result in checks.values())
    body = {"status": "healthy" if healthy else "unhealthy", "checks": checks, "version": settings.VERSION}
    return JsonResponse(body, status=200 if healthy else 503)
