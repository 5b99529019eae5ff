"""Experiment (bench/run.py --variant lean:DJANGO_SETTINGS_MODULE=bench.lean_settings): the product's
settings with the browser-only middleware skipped on /mcp, to measure what it costs on the hot path."""

from mcpsite.settings import *  # noqa: F403
from mcpsite.settings import MIDDLEWARE

SKIPPED_ON_MCP = {
    "django.contrib.sessions.middleware.SessionMiddleware": "bench.lean_middleware.Sessions",
    "django.middleware.csrf.CsrfViewMiddleware": "bench.lean_middleware.Csrf",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "bench.lean_middleware.Auth",
    "django.contrib.messages.middleware.MessageMiddleware": "bench.lean_middleware.Messages",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "bench.lean_middleware.FrameOptions",
}
MIDDLEWARE = [SKIPPED_ON_MCP.get(name, name) for name in MIDDLEWARE]
