"""Experiment: the browser-only middleware (sessions, CSRF, auth, messages, frame options) skipped on /mcp,
which authenticates with bearer tokens and serves no pages. Used by bench/lean_settings.py."""

from django.utils.module_loading import import_string

MCP_PATH = "/mcp"


class SkippedOnMcp:
    """Wraps the middleware named by `wrapped`: /mcp requests go straight past it."""

    wrapped = ""

    def __init__(self, get_response):
        self.get_response = get_response
        self.inner = import_string(self.wrapped)(get_response)

    def __call__(self, request):
        if request.path_info == MCP_PATH:
            return self.get_response(request)
        return self.inner(request)

    def process_view(self, request, view, args, kwargs):
        if request.path_info == MCP_PATH or not hasattr(self.inner, "process_view"):
            return None
        return self.inner.process_view(request, view, args, kwargs)


class Sessions(SkippedOnMcp):
    wrapped = "django.contrib.sessions.middleware.SessionMiddleware"


class Csrf(SkippedOnMcp):
    wrapped = "django.middleware.csrf.CsrfViewMiddleware"


class Auth(SkippedOnMcp):
    wrapped = "django.contrib.auth.middleware.AuthenticationMiddleware"


class Messages(SkippedOnMcp):
    wrapped = "django.contrib.messages.middleware.MessageMiddleware"


class FrameOptions(SkippedOnMcp):
    wrapped = "django.middleware.clickjacking.XFrameOptionsMiddleware"
