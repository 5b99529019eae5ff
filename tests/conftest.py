"""Shared fixtures. Unit and integration tests use Django's test client on the configured backends;
e2e tests (tests/e2e) start real gunicorn processes through harness/servers.py."""

import pytest
from django.conf import settings
from django.core.cache import cache


def pytest_report_header(config):
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache_backend = "redis" if settings.CACHE_IS_SHARED else "in-process memory"
    return f"backends: database={engine}, cache={cache_backend}"


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache (the tests' own Redis database, never the servers')."""
    cache.clear()
    yield
    cache.clear()
