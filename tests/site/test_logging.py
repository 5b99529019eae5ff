"""Logging: JSON lines on stdout in production, readable text in development, X-Request-ID on every response."""

import json
import logging
import re
import subprocess
import sys
import time

import pytest
import requests

from common.logging import JsonFormatter, TextFormatter
from harness.servers import PYTHON, ROOT, drop_database, e2e_redis_url, free_port, make_deployment
from tests.support.production import default_environment, safe_production_settings

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
REQUEST_LINE_FIELDS = {"timestamp", "level", "logger", "message", "request_id", "method", "path", "status",
                       "duration_ms"}


def log_lines_of(server, request_id: str, timeout: float = 5.0) -> list[str]:
    """The server's output lines mentioning `request_id` (written just after the response)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in server.log_path.read_text().splitlines() if request_id in line]
        if any('"mcpsite.request"' in line for line in lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no request line for {request_id} in:\n{server.log_path.read_text()}")


def test_production_logs_json_lines_with_the_request_fields_on_stdout(production_server):
    response = requests.get(f"{production_server.base_url}/health", headers={"X-Request-ID": "prod-log-1",
                            "User-Agent": "probe/1.0"}, timeout=5)
    assert response.headers["X-Request-ID"] == "prod-log-1"
    [request_line] = [json.loads(line) for line in log_lines_of(production_server, "prod-log-1")
                      if '"mcpsite.request"' in line]
    assert REQUEST_LINE_FIELDS <= request_line.keys()
    assert request_line["request_id"] == "prod-log-1"
    assert (request_line["level"], request_line["method"], request_line["path"], request_line["status"]) == (
        "INFO", "GET", "/health", 200)
    assert request_line["duration_ms"] >= 0
    assert request_line["user_agent"] == "probe/1.0"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", request_line["timestamp"])


def test_production_output_is_only_json_lines_gunicorn_included(production_server):
    requests.get(f"{production_server.base_url}/health", headers={"X-Request-ID": "prod-log-2"}, timeout=5)
    log_lines_of(production_server, "prod-log-2")
    lines = [line for line in production_server.log_path.read_text().splitlines() if line.strip()]
    loggers = {json.loads(line)["logger"] for line in lines}  # raises on any line that is not JSON
    assert {"gunicorn.error", "gunicorn.access", "mcpsite.request"} <= loggers


def test_production_writes_one_line_per_request_unless_gunicorns_access_log_is_asked_for(tmp_path):
    """The application's line is the one line per request: gunicorn's access log is off by default."""
    redis_url = e2e_redis_url()
    if not redis_url:
        pytest.skip("production requires Redis; REDIS_URL is not set (make test sets it when Redis answers)")
    port = free_port()
    deployment = make_deployment(tmp_path, port, **safe_production_settings(redis_url))
    deployment.env.pop("LOG_FORMAT")
    deployment.env.pop("GUNICORN_ACCESS_LOG", None)
    deployment.log_path = tmp_path / "gunicorn.log"
    try:
        deployment.start_gunicorn(port, workers=1, log_path=deployment.log_path)
        requests.get(f"http://127.0.0.1:{port}/health", headers={"X-Request-ID": "one-line-1"}, timeout=5)
        log_lines_of(deployment, "one-line-1")  # waits for the application's line
        time.sleep(0.5)  # gunicorn would write its access line just after the response
        lines = [json.loads(line) for line in deployment.log_path.read_text().splitlines() if "one-line-1" in line]
        assert [line["logger"] for line in lines] == ["mcpsite.request"]
    finally:
        deployment.stop()
        drop_database(deployment.database_url)


def test_development_logs_readable_text_with_the_request_id():
    script = ("from django.test import Client; "
              "Client().get('/health', HTTP_X_REQUEST_ID='dev-log-1')")
    result = subprocess.run([PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=default_environment(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if "dev-log-1" in line]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO mcpsite\.request \[dev-log-1\] GET /health 200$",
                    line), line


@pytest.mark.django_db
def test_a_well_formed_request_id_is_honoured(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="ServiceNow-4f1c.2:abc_9")
    assert response["X-Request-ID"] == "ServiceNow-4f1c.2:abc_9"


@pytest.mark.django_db
@pytest.mark.parametrize("offered", ['bad id', 'x"><script>', "a" * 129, "line\rbreak"])
def test_a_malformed_request_id_is_replaced_by_a_generated_one(client, offered):
    response = client.get("/health", HTTP_X_REQUEST_ID=offered)
    assert GENERATED_ID.match(response["X-Request-ID"])


@pytest.mark.django_db
def test_every_response_carries_a_generated_request_id_when_none_was_sent(client):
    first, second = client.get("/health"), client.get("/no-such-page")
    assert GENERATED_ID.match(first["X-Request-ID"]) and GENERATED_ID.match(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert second.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("log_requests", [True, False])
def test_log_requests_turns_the_per_request_line_on_and_off(client, settings, caplog, log_requests):
    settings.LOG_REQUESTS = log_requests
    with caplog.at_level("INFO", logger="mcpsite.request"):
        response = client.get("/health", HTTP_X_REQUEST_ID="log-requests-switch")
    assert response["X-Request-ID"] == "log-requests-switch"  # the id is given either way
    lines = [record for record in caplog.records if record.name == "mcpsite.request"]
    assert len(lines) == (1 if log_requests else 0)


# --- No forged lines, in either format --------------------------------------------------------------

FORGED = "2026-01-01 00:00:00,000 INFO oauth_app.audit [-] audit admin_action client= actor=root"
LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"]


def log_record(message: str, *args, exc_info=None) -> logging.LogRecord:
    record = logging.LogRecord("oauth_app.audit", logging.INFO, __file__, 1, message, args, exc_info)
    record.request_id = "req-1"
    return record


@pytest.mark.parametrize("line_break", LINE_BREAKS, ids=[repr(ch) for ch in LINE_BREAKS])
def test_the_text_format_escapes_line_breaks_so_a_user_name_cannot_forge_a_line(line_break):
    line = TextFormatter().format(log_record("signed in as %s", f"alice{line_break}{FORGED}"))
    assert len(line.splitlines()) == 1
    assert line.endswith(f"signed in as alice{line_break.encode('unicode_escape').decode()}{FORGED}")


def test_the_text_format_escapes_terminal_and_bidi_controls_and_lone_surrogates():
    line = TextFormatter().format(log_record("GET %s", "/x\x1b[2J\u202egnp.exe\u200b\ud800"))
    assert line.endswith("GET /x\\x1b[2J\\u202egnp.exe\\u200b\\ud800")
    line.encode("utf-8")  # a lone surrogate would make the stream handler fail


def test_a_traceback_in_the_text_format_stays_indented_under_its_record():
    try:
        raise ValueError(f"bad input\n{FORGED}")
    except ValueError:
        record = log_record("refused", exc_info=sys.exc_info())
    first, *rest = TextFormatter().format(record).splitlines()
    assert first.endswith("[req-1] refused")
    assert rest and all(line.startswith("    ") for line in rest)


@pytest.mark.parametrize("line_break", LINE_BREAKS, ids=[repr(ch) for ch in LINE_BREAKS])
def test_the_json_format_keeps_one_record_per_line_whatever_the_message(line_break):
    message = f"signed in as alice{line_break}{FORGED}\u202e\ud800"
    line = JsonFormatter().format(log_record("%s", message))
    assert len(line.splitlines()) == 1 and line.isascii()
    assert json.loads(line)["message"] == message


def test_development_text_logs_escape_a_forged_request_path():
    script = ("from django.test import Client; "
              f"Client().get('/forge%0A{FORGED.replace(' ', '%20')}', HTTP_X_REQUEST_ID='dev-forge-1')")
    result = subprocess.run([PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=default_environment(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if "dev-forge-1" in line]
    assert line.endswith(f"GET /forge\\n{FORGED} 404")
    assert not any(line.startswith("2026-01-01") for line in result.stdout.splitlines())


def test_production_access_lines_stay_json_when_the_path_and_user_agent_try_to_forge_fields(production_server):
    agent = 'curl\\", "level": "ERROR", "logger": "oauth_app.audit'  # gunicorn escapes the quote, not the backslash
    requests.get(f"{production_server.base_url}/forge%0A%7B%22level%22%3A%22ERROR%22%7D",
                 headers={"X-Request-ID": "prod-forge-1", "User-Agent": agent}, timeout=5, allow_redirects=False)
    deadline = time.monotonic() + 5  # gunicorn writes its access line just after the response
    while time.monotonic() < deadline and '"gunicorn.access"' not in "".join(log_lines_of(production_server,
                                                                                            "prod-forge-1")):
        time.sleep(0.05)
    entries = [json.loads(line) for line in log_lines_of(production_server, "prod-forge-1")]  # each one JSON
    [access] = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
    assert (access["level"], access["user_agent"], access["path"]) == ("INFO", agent, '/forge\n{"level":"ERROR"}')
