"""gunicorn configuration: `gunicorn -c deploy/gunicorn.conf.py mcpsite.wsgi:application`.

Workers and threads come from the environment (and `.env`, like the settings). The application is
loaded in the master before forking (preload), so an unsafe production configuration stops gunicorn
at once with its reasons. SIGTERM is a graceful stop: workers finish the requests in flight.
"""

import gc
import json
import multiprocessing
import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
# systemd and supervisor start us with only a few variables: read `.env` as the settings do.
load_dotenv(BASE_DIR / ".env", override=False)
chdir = str(BASE_DIR)
wsgi_app = "mcpsite.wsgi:application"

bind = os.environ.get("GUNICORN_BIND", f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Threaded workers by default: a streaming tool call (progress, sampling, elicitation) holds its thread for
# as long as it runs, and the other threads keep serving; a sync worker would be taken whole by it.
# Slow clients are nginx's to absorb (it buffers request bodies): a thread only sees complete requests.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
# Threaded workers listen on a socket each (SO_REUSEPORT) and the kernel spreads new connections across
# them: on one shared socket a threaded worker takes every connection it can, so a burst of kept-alive
# connections (nginx's upstream pool, a load generator) piles onto one worker while the others idle. Sync
# workers share one socket: each takes a connection only when it is free (a per-worker socket would queue
# a connection behind a worker busy with a long call while another is idle).
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "true" if threads > 1 else "false").strip().lower() in (
    "1", "true", "yes", "on")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# On SIGTERM, workers finish the requests they are serving for up to this long.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
preload_app = True
# The heartbeat file lives in memory: Docker's /tmp may be a slow overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# nginx in front sets X-Forwarded-*; only trust it from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn >= 25 opens a control socket at one path per user by default; several instances on one
# host would fight over it. Only when asked for: GUNICORN_CONTROL_SOCKET=/run/mcp-server/gunicorn.ctl.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket

# One line per request: the application's (LOG_REQUESTS) has the client's address past nginx and the
# request id; gunicorn's access line, a second one, only when asked for (`-` for stdout).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
logger_class = "common.logging.GunicornLogger"  # JSON-escapes the request fields of the access line
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# With GUNICORN_ACCESS_LOG: one JSON object per request (gunicorn fills the %-fields).
access_log_format = json.dumps(
    {
        "timestamp": "%(t)s",
        "level": "INFO",
        "logger": "gunicorn.access",
        "remote_addr": "%(h)s",
        "method": "%(m)s",
        "path": "%(U)s",
        "status": "%(s)s",
        "bytes": "%(B)s",
        "duration_ms": "%(M)s",
        "request_id": "%({x-request-id}o)s",
        "user_agent": "%(a)s",
    }
)

# In production (or with LOG_FORMAT=json, as the settings decide) gunicorn's own messages are JSON lines
# on stdout too, so every line of the service's output parses.
in_production = os.environ.get("ENVIRONMENT", "").strip().lower() == "production"
if os.environ.get("LOG_FORMAT", "").strip() == "json" or (in_production and not os.environ.get("LOG_FORMAT")):
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "common.logging.JsonFormatter"},
            "access": {"format": "%(message)s"},  # the line is already the JSON object above
        },
        "handlers": {
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "console": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }


def when_ready(server):
    # What the preloaded application built is never garbage: out of every collection, and its memory pages
    # stay shared with the workers (a collection would write to them). ~3% of a worker's CPU under load.
    gc.freeze()


def post_worker_init(worker):
    # Each worker moves its share of the audit records queued in Redis to PostgreSQL (mcp_app.audit); an
    # application without the MCP app (the benchmark's bare Django reference) has nothing to move.
    from django.apps import apps

    if apps.is_installed("mcp_app"):
        from mcp_app.audit import start_flusher

        start_flusher()
