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


@pytest.fixture
def asymmetric_tokens(settings, request):
    """JWT_ALGORITHM=ES256 (or the parametrized algorithm), with this worker's key set forgotten before and
    after: the keys live in the test's transaction."""
    from oauth_app import keys

    settings.JWT_ALGORITHM = getattr(request, "param", "ES256")
    keys.current_set = None
    yield settings.JWT_ALGORITHM
    keys.current_set = None
