"""Configuration validation: each rule of mcpsite/checks.py, and what it does to the real commands.

In production every rule is an Error; in development the two rules that matter there (a short
JWT_SECRET, a wildcard origin) are Warnings and the production-only rules stay silent, so `make run`
on the embedded defaults prints no noise.
"""

import subprocess

import pytest
import requests
from django.core import checks
from django.test import override_settings

from harness.servers import PYTHON, ROOT, free_port
from common.redis import parse_sentinels
from mcpsite.checks import check_broken_configuration, check_configuration
from tests.support.production import default_environment

SAFE = {
    "JWT_SECRET": "j" * 40,
    "ALLOWED_ORIGINS": ["https://instance.service-now.com"],
    "OAUTH_ISSUER": "https://mcp.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DEBUG": False,
    "SECRET_KEY": "s" * 50,
    "ALLOWED_HOSTS": ["mcp.example.com"],
    "MCP_CONFORMANCE_FIXTURES": False,
    "REFRESH_TOKEN_REUSE_GRACE_SECONDS": 5,
}

# id -> (the unsafe setting, a fragment of its message)
RULES = {
    "mcpsite.E001": ({"JWT_SECRET": "short-secret"}, "JWT_SECRET must be at least 32 characters"),
    "mcpsite.E002": ({"ALLOWED_ORIGINS": ["*"]}, "ALLOWED_ORIGINS contains the wildcard"),
    "mcpsite.E003": ({"OAUTH_ISSUER": "http://mcp.example.com"}, "OAUTH_ISSUER must be an https:// URL"),
    "mcpsite.E004": ({"REDIS_URL": ""}, "Redis is not configured"),
    "mcpsite.E005": ({"DEBUG": True}, "DEBUG is on in production"),
    "mcpsite.E006": ({"SECRET_KEY": "django-insecure-development-key-do-not-use-in-production"},
                     "SECRET_KEY is missing or the development default"),
    "mcpsite.E007": ({"JWT_SECRET": "development-jwt-secret-do-not-use-in-production"},
                     "JWT_SECRET is the development default"),
    "mcpsite.E008": ({"ALLOWED_HOSTS": []}, "ALLOWED_HOSTS is empty"),
    "mcpsite.E009": ({"MCP_CONFORMANCE_FIXTURES": True}, "MCP_CONFORMANCE_FIXTURES is on in production"),
    "mcpsite.E010": ({"REFRESH_TOKEN_REUSE_GRACE_SECONDS": 61},
                     "REFRESH_TOKEN_REUSE_GRACE_SECONDS must be between 0 and 60"),
    "mcpsite.E011": ({"RATE_LIMIT_LOGIN_MAX": 10, "RATE_LIMIT_LOGIN_ACCOUNT_MAX": 5},
                     "RATE_LIMIT_LOGIN_ACCOUNT_MAX is below RATE_LIMIT_LOGIN_MAX"),
    "mcpsite.E012": ({"JWT_ALGORITHM": "HS512"}, "JWT_ALGORITHM must be HS256, ES256 or RS256"),
    "mcpsite.E013": ({"MCP_TOOL_ACCESS_DEFAULT": "open"}, "MCP_TOOL_ACCESS_DEFAULT must be allow or deny"),
    "mcpsite.E014": ({"AUDIT_RETENTION_DAYS": 0}, "AUDIT_RETENTION_DAYS must be at least 1"),
    "mcpsite.E031": ({"MCP_TASK_THREADS": 0}, "MCP_TASK_THREADS must be a positive integer"),
    "mcpsite.E032": ({"MCP_TASK_LEASE_SECONDS": 1}, "MCP_TASK_LEASE_SECONDS must be at least 3"),
}
DEVELOPMENT_RULES = {"mcpsite.E001", "mcpsite.E002", "mcpsite.E010", "mcpsite.E011", "mcpsite.E012", "mcpsite.E013",
                     "mcpsite.E014", "mcpsite.E031", "mcpsite.E032"}


def problems(is_production: bool, **unsafe):
    with override_settings(**{**SAFE, **unsafe, "IS_PRODUCTION": is_production}):
        return check_configuration()


def test_a_safe_configuration_has_no_problem_in_either_environment():
    assert problems(True) == []
    assert problems(False) == []


@pytest.mark.parametrize("check_id", sorted(RULES))
def test_each_unsafe_setting_is_an_error_in_production(check_id):
    unsafe, fragment = RULES[check_id]
    [message] = problems(True, **unsafe)
    assert message.id == check_id
    assert message.level == checks.ERROR
    assert fragment in message.msg
    assert message.hint


@pytest.mark.parametrize("check_id", sorted(DEVELOPMENT_RULES))
def test_the_development_rules_are_warnings_in_development(check_id):
    unsafe, fragment = RULES[check_id]
    [message] = problems(False, **unsafe)
    assert (message.id, message.level) == (check_id, checks.WARNING)
    assert fragment in message.msg


@pytest.mark.parametrize("check_id", sorted(set(RULES) - DEVELOPMENT_RULES))
def test_the_production_only_rules_are_silent_in_development(check_id):
    unsafe, _ = RULES[check_id]
    assert problems(False, **unsafe) == []


def test_every_rule_is_reported_at_once():
    everything_unsafe = {key: value for unsafe, _ in RULES.values() for key, value in unsafe.items()}
    everything_unsafe["JWT_SECRET"] = "short-secret"  # E007 is checked separately (it is long enough)
    reported = {message.id for message in problems(True, **everything_unsafe)}
    assert reported == set(RULES) - {"mcpsite.E007"}


# --- The real commands, in fresh processes with ENVIRONMENT=production and nothing else set -----------

# With the defaults: http issuer, no Redis, development SECRET_KEY and JWT_SECRET, no ALLOWED_HOSTS.
DEFAULT_PRODUCTION_PROBLEMS = ["mcpsite.E003", "mcpsite.E004", "mcpsite.E006", "mcpsite.E007", "mcpsite.E008"]
DEFAULT_PRODUCTION_MESSAGES = [RULES[check_id][1] for check_id in DEFAULT_PRODUCTION_PROBLEMS]


def run(*command: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=ROOT, env=default_environment(**env), capture_output=True,
                          text=True, timeout=60)


def assert_refused_listing(result: subprocess.CompletedProcess, expected_messages: list[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    missing = [message for message in expected_messages if message not in output]
    assert not missing, f"not reported: {missing}\n{output}"


def test_production_with_default_settings_refuses_runserver_listing_every_unsafe_setting():
    result = run(PYTHON, "manage.py", "runserver", f"127.0.0.1:{free_port()}", ENVIRONMENT="production")
    assert_refused_listing(result, DEFAULT_PRODUCTION_MESSAGES)


def test_production_with_default_settings_refuses_migrate_listing_every_unsafe_setting():
    result = run(PYTHON, "manage.py", "migrate", "--noinput", ENVIRONMENT="production")
    assert_refused_listing(result, DEFAULT_PRODUCTION_MESSAGES)


def test_production_with_default_settings_refuses_gunicorn_listing_every_unsafe_setting():
    result = run(PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}",
                 "mcpsite.wsgi:application", ENVIRONMENT="production")
    assert_refused_listing(result, DEFAULT_PRODUCTION_MESSAGES)


def test_gunicorn_refuses_debug_and_wildcard_origins_and_a_short_jwt_secret_in_production():
    result = run(PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}",
                 "mcpsite.wsgi:application", ENVIRONMENT="production", DEBUG="true", ALLOWED_ORIGINS="*",
                 JWT_SECRET="short-secret")
    assert_refused_listing(result, [RULES[check_id][1] for check_id in ("mcpsite.E001", "mcpsite.E002",
                                                                        "mcpsite.E005")])


def test_development_with_default_settings_starts_and_only_warns_about_what_matters_there():
    result = run(PYTHON, "manage.py", "check", JWT_SECRET="short-secret")
    assert result.returncode == 0, result.stderr
    assert "(mcpsite.E001)" in result.stderr
    assert "(mcpsite.E003)" not in result.stderr


def test_production_with_a_safe_configuration_starts_gunicorn_and_answers_health(production_server):
    response = requests.get(f"{production_server.base_url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"


def test_the_csrf_and_frame_options_middleware_are_required_as_themselves_or_as_ours():
    """Django's W002/W003 are silenced for our subclasses (mcpsite.middleware); this check replaces them."""
    from django.conf import settings

    from mcpsite.checks import check_browser_middleware

    assert check_browser_middleware() == []
    djangos_own = [m.replace("mcpsite.middleware.", "django.middleware.csrf.") if "Csrf" in m else m
                   for m in settings.MIDDLEWARE]
    with override_settings(MIDDLEWARE=djangos_own):
        assert check_browser_middleware() == []
    without = [m for m in settings.MIDDLEWARE if "Csrf" not in m and "XFrame" not in m]
    with override_settings(MIDDLEWARE=without):
        assert {message.id for message in check_browser_middleware()} == {"mcpsite.security_W002",
                                                                            "mcpsite.security_W003"}


# --- Settings that cannot work anywhere: errors in every environment ---------------------------------

SENTINEL_RULES = {
    "mcpsite.E040": ({"REDIS_SENTINELS": ["10.0.0.1:26379", "10.0.0.2"], "REDIS_SENTINEL_MASTER": "mymaster"},
                     "REDIS_SENTINELS has entries that are not host:port: 10.0.0.2"),
    "mcpsite.E041": ({"REDIS_SENTINELS": ["10.0.0.1:26379"], "REDIS_SENTINEL_MASTER": ""},
                     "REDIS_SENTINEL_MASTER is empty"),
    "mcpsite.E042": ({"REDIS_SENTINELS": [], "REDIS_SENTINEL_MASTER": "mymaster"},
                     "REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is empty"),
}


@pytest.mark.parametrize("is_production", [True, False])
@pytest.mark.parametrize("check_id", sorted(SENTINEL_RULES))
def test_a_broken_sentinel_configuration_is_an_error_in_every_environment(check_id, is_production):
    broken, fragment = SENTINEL_RULES[check_id]
    with override_settings(**{**SAFE, **broken, "IS_PRODUCTION": is_production}):
        [message] = check_broken_configuration()
    assert (message.id, message.level) == (check_id, checks.ERROR)
    assert fragment in message.msg and message.hint


def test_sentinels_are_read_as_host_and_port_pairs_ipv6_in_brackets():
    assert parse_sentinels(["10.0.0.1:26379", "[::1]:26380", "sentinel.internal:1"]) == (
        [("10.0.0.1", 26379), ("::1", 26380), ("sentinel.internal", 1)], [])
    assert parse_sentinels(["10.0.0.1", ":26379", "host:port", "host:0", "host:65536"])[0] == []


def test_gunicorn_refuses_to_start_in_development_with_a_sentinel_list_it_cannot_read():
    result = run(PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}",
                 "mcpsite.wsgi:application", REDIS_SENTINELS="10.0.0.1:26379,sentinel-without-port",
                 REDIS_SENTINEL_MASTER="mymaster")
    assert_refused_listing(result, ["REDIS_SENTINELS has entries that are not host:port: sentinel-without-port"])
