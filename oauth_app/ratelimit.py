"""Rate limits of the authorization server, on the shared cache so every worker and host counts the same.

- OAuth endpoints (`/oauth/...`) and the organisation sign-in (`/accounts/oidc/...`): RATE_LIMIT_OAUTH_MAX requests per RATE_LIMIT_OAUTH_WINDOW seconds per
  client address (django-ratelimit).
- Sign-in (the OAuth sign-in form and the admin's): failed attempts per RATE_LIMIT_LOGIN_WINDOW, counted
  from Django's `user_login_failed` signal per address and per (account, address) up to RATE_LIMIT_LOGIN_MAX,
  per account alone up to RATE_LIMIT_LOGIN_ACCOUNT_MAX (see `login_limits`); a successful sign-in is never
  counted, so people who type well are never locked out.

Per-address counters count an IPv6 caller by its /64 (common.http.address_group).

A rejected request gets 429 with Retry-After: OAuth error JSON (registered here for the OAuth paths), a page
for the login form. When the cache is unreachable the limits fail open (requests are served, a warning is
logged): availability matters more than counting during a Redis outage.
"""

import functools
import logging
import unicodedata

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.urls import NoReverseMatch, get_urlconf, reverse
from django_ratelimit.core import get_usage

from common.errors import too_many_requests
from common.http import address_group

logger = logging.getLogger(__name__)

OAUTH_PREFIX = "/oauth/"
OAUTH_PATHS = (OAUTH_PREFIX, "/.well-known/")
# The organisation sign-in's start, callback and back-channel logout share the OAuth endpoints' budget.
SSO_PREFIX = "/accounts/oidc/"
LIMITED_PREFIXES = (OAUTH_PREFIX, SSO_PREFIX)


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
    found = usage(request, "oauth", address_group(request), settings.RATE_LIMIT_OAUTH_MAX,
                  settings.RATE_LIMIT_OAUTH_WINDOW, increment=True)
    if found and found["should_limit"]:
        return too_many_requests("oauth", found["time_left"], request)
    return None


def account_name(username: str) -> str:
    """The account a typed username names, so that spelling variants share one counter.

    Django's sign-in form applies NFKC; case-folding on top makes "Alice", "ALICE" and "ａｌｉｃｅ" one account.
    """
    return unicodedata.normalize("NFKC", username).strip().casefold()


def login_limits(request, username: str) -> list[tuple[str, int]]:
    """(counter, failures allowed) for a sign-in attempt.

    Per address and per (account, address) at RATE_LIMIT_LOGIN_MAX; per account alone only at
    RATE_LIMIT_LOGIN_ACCOUNT_MAX (10 times as many by default), so a burst of wrong passwords from one
    place cannot lock the real user out from another, while a slow attack spread over many places still
    meets a ceiling.
    """
    address = address_group(request)
    limits = [(f"address:{address}", settings.RATE_LIMIT_LOGIN_MAX)]
    account = account_name(username)
    if account:
        limits += [(f"account-address:{account}|{address}", settings.RATE_LIMIT_LOGIN_MAX),
                   (f"account:{account}", settings.RATE_LIMIT_LOGIN_ACCOUNT_MAX)]
    return limits


def check_login(request) -> HttpResponse | None:
    for value, limit in login_limits(request, request.POST.get("username", "")):
        found = usage(request, "login", value, limit, settings.RATE_LIMIT_LOGIN_WINDOW, increment=False)
        # The counter holds failures so far; one more attempt is allowed while it is below the limit.
        if found and found["count"] >= found["limit"]:
            return too_many_requests("login", found["time_left"], request)
    return None


@receiver(user_login_failed, dispatch_uid="oauth_app.ratelimit.count_login_failure")
def count_login_failure(sender, credentials, request=None, **kwargs) -> None:
    """Every failed authenticate() over HTTP counts, whichever form or backend refused it.

    Counting the signal rather than the response status means a page that answers 200 for other reasons
    is never counted, and a failure is counted however the page answers. Failures without a request
    (code, the shell) are nobody's attack and are not counted.
    """
    if request is None:
        return
    for value, limit in login_limits(request, str(credentials.get("username", ""))):
        usage(request, "login", value, limit, settings.RATE_LIMIT_LOGIN_WINDOW, increment=True)


def login_paths() -> frozenset[str]:
    """The sign-in pages: the OAuth sign-in form and the admin's (LOGIN_URL is read per POST: it may change)."""
    admin_login = admin_login_path(get_urlconf() or settings.ROOT_URLCONF)
    return frozenset({settings.LOGIN_URL, admin_login} - {None})


@functools.lru_cache(maxsize=8)
def admin_login_path(urlconf: str) -> str | None:
    """Looked up once per URL configuration: `reverse` costs ~40 µs, on every POST (/mcp included)."""
    try:
        return reverse("admin:login", urlconf=urlconf)
    except NoReverseMatch:  # the admin is not installed
        return None


class RateLimitMiddleware:
    """Applies the limits by path, before sessions and views run, so a rejected request costs little."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(LIMITED_PREFIXES):
            return check_oauth(request) or self.get_response(request)
        if request.method == "POST" and path in login_paths():
            return check_login(request) or self.get_response(request)
        return self.get_response(request)
