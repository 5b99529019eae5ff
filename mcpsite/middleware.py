"""Django's browser-only middleware, skipped on /mcp.

/mcp authenticates every request with a bearer token and serves no pages: sessions, CSRF cookies, the
session user, messages and frame options do nothing for it, and together cost ~0.15 ms of CPU per
request on the hot path. Each class here is Django's own, unchanged for every other path. On /mcp the
request goes straight past it; what /mcp needs stays in front of these (request id, metrics, database
outage 503, security headers such as nosniff, CORS, rate limits).

Django's deploy checks look for these middleware by their dotted names, so `mcpsite.checks` checks
that each is installed (as itself or as the subclass here) instead.
"""

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, csrf

MCP_PATH = "/mcp"


class SkippedOnMcp:
    """Mixin: on /mcp, call the next layer directly (no process_request/process_response)."""

    def __call__(self, request):
        if request.path_info == MCP_PATH:
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(SkippedOnMcp, sessions.SessionMiddleware):
    pass


class CsrfViewMiddleware(SkippedOnMcp, csrf.CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if request.path_info == MCP_PATH:
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(SkippedOnMcp, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(SkippedOnMcp, messages.MessageMiddleware):
    pass


class XFrameOptionsMiddleware(SkippedOnMcp, clickjacking.XFrameOptionsMiddleware):
    pass


# Django's deploy checks that test for these dotted names, and the class each stands for.
REPLACED_CHECKS = {
    "security.W002": "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "security.W003": "django.middleware.csrf.CsrfViewMiddleware",
}
