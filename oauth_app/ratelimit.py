"""Rate limits of the authorization server, on the shared cache so every worker and host counts the same.

- OAuth endpoints (`/oauth/...`): RATE_LIMIT_OAUTH_MAX requests per RATE_LIMIT_OAUTH_WINDOW seconds per
  client address (django-ratelimit).
- Login form: RATE_LIMIT_LOGIN_MAX failed attempts per RATE_LIMIT_LOGIN_WINDOW, counted per account and per
  address (django-ratelimit); a successful login is never counted, so people who type well are never locked out.

A rejected request gets 429 with Retry-After: OAuth error JSON (registered here for the OAuth paths), a page
for the login form. When the cache is unreachable the limits fail open (requests are served, a warning is
logged): availability matters more than counting during a Redis outage.
"""

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django_ratelimit.core import get_usage

from common.errors import too_many_requests
from common.http import client_address

logger = logging.getLogger(__name__)

OAUTH_PREFIX = "/oauth/"
OAUTH_PATHS = (OAUTH_PREFIX, "/.well-known/")


def oauth_retry_later(status: int, retry_after: int, message: str) -> HttpResponse:
    # RFC 6749 section 4.1.2.1: "temporarily unable to handle the request due to a temporary overloading".
    response = JsonResponse({"error": "temporarily_unavailable", "error_description": message}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def usage(request, group: str, value: str, limit: int, window: int, increment: bool) -> dict | None:
    """django-ratelimit's count for (group, value); None when the cache cannot be reached."""
    try:
        return get_usage(request, group=group, key=lambda _group, _request: value, rate=(limit, window),
                         increment=increment)
    except Exception:
        logger.warning("rate limit cache unreachable; %s not counted", group)
        return None


def check_oauth(request) -> HttpResponse | None:
    found = usage(request, "oauth", client_address(request) or "-", settings.RATE_LIMIT_OAUTH_MAX,
                  settings.RATE_LIMIT_OAUTH_WINDOW, increment=True)
    if found and found["should_limit"]:
        return too_many_requests("oauth", found["time_left"], request)
    return None


def login_keys(request) -> list[str]:
    keys = [f"address:{client_address(request) or '-'}"]
    username = request.POST.get("username", "").strip().lower()
    if username:
        keys.append(f"account:{username}")
    return keys


def check_login(request) -> HttpResponse | None:
    for value in login_keys(request):
        found = usage(request, "login", value, settings.RATE_LIMIT_LOGIN_MAX, settings.RATE_LIMIT_LOGIN_WINDOW,
                      increment=False)
        # The counter holds failures so far; one more attempt is allowed while it is below the limit.
        if found and found["count"] >= found["limit"]:
            return too_many_requests("login", found["time_left"], request)
    return None


def count_login_failure(request) -> None:
    for value in login_keys(request):
        usage(request, "login", value, settings.RATE_LIMIT_LOGIN_MAX, settings.RATE_LIMIT_LOGIN_WINDOW,
              increment=True)


class RateLimitMiddleware:
    """Applies the limits by path, before sessions and views run, so a rejected request costs little."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(OAUTH_PREFIX):
            return check_oauth(request) or self.get_response(request)
        if path == settings.LOGIN_URL and request.method == "POST":
            rejected = check_login(request)
            if rejected:
                return rejected
            response = self.get_response(request)
            if response.status_code == 200:  # the form came back with an error: a failed attempt
                count_login_failure(request)
            return response
        return self.get_response(request)
