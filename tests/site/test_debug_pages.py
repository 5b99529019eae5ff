"""Debug pages are off unless asked for, and never show where the database or Redis is (with its password)."""

import subprocess
import sys

import pytest
from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response

from tests.support.production import default_environment
from harness.servers import PYTHON, ROOT

DATABASE_URL = "postgres://mcp:db-password-31337@db.internal:5432/mcp"
REDIS_URL = "redis://:redis-password-31337@cache.internal:6379/0"
SENTRY_DSN = "https://key@sentry.example/1"
SECRET_PARTS = ("db-password-31337", "redis-password-31337", "db.internal", "key@sentry.example")
PRINT_DEBUG = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def debug_setting(**env: str) -> str:
    result = subprocess.run([PYTHON, "-c", PRINT_DEBUG], cwd=ROOT, env=default_environment(**env),
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


@pytest.mark.parametrize("environment", [None, "", "staging", "production"])
def test_debug_is_off_unless_environment_development_is_set_explicitly(environment):
    env = {"DJANGO_SETTINGS_MODULE": "mcpsite.settings"}
    if environment is not None:
        env["ENVIRONMENT"] = environment
    assert debug_setting(**env) == "False"


def test_debug_is_on_when_environment_development_is_set():
    assert debug_setting(DJANGO_SETTINGS_MODULE="mcpsite.settings", ENVIRONMENT="development") == "True"


def test_make_run_sets_environment_development():
    env = default_environment()
    dry_run = subprocess.run(["make", "-n", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "ENVIRONMENT=development" in dry_run.stdout and "runserver" in dry_run.stdout


@override_settings(DEBUG=True, REDIS_URL=REDIS_URL, DATABASE_URL=DATABASE_URL, SENTRY_DSN=SENTRY_DSN,
                   CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": REDIS_URL}})
def test_the_debug_page_hides_database_and_redis_urls_from_settings_and_the_environment():
    request = RequestFactory().get("/boom", DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        page = technical_500_response(request, *sys.exc_info()).content.decode()
    assert "boom" in page and "REDIS_URL" in page and "DATABASE_URL" in page  # the page lists them, cleansed
    assert [part for part in SECRET_PARTS if part in page] == []
