"""Shared fixtures. Unit and integration tests use Django's test client on the configured backends;
e2e tests (tests/e2e) start real gunicorn processes through harness/servers.py."""

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.support import personas


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


# --- Personas (their constants and factories are in tests/support/personas.py) ---------------------------

@pytest.fixture
def alice(db):
    return personas.make_user("alice", personas.ALICE_PASSWORD)


@pytest.fixture
def bob(db):
    """A second user, for what must stay one user's own (budgets, tokens, consent)."""
    return personas.make_user("bob", personas.BOB_PASSWORD)


@pytest.fixture
def browser(client, alice):
    """Alice's browser, signed in."""
    client.force_login(alice)
    return client


@pytest.fixture
def servicenow_client(db):
    """A confidential client authenticating with client_secret_post at an https redirect (the ServiceNow shape);
    its secret is personas.SERVICENOW_SECRET."""
    return personas.make_client("ServiceNow", (personas.SERVICENOW_REDIRECT,), "client_secret_post",
                                secret=personas.SERVICENOW_SECRET).client


@pytest.fixture
def inspector(db):
    """A public client (MCP Inspector, Claude, VS Code): no secret, PKCE mandatory, a loopback redirect first."""
    return personas.make_client(
        "MCP Inspector", (personas.LOOPBACK_REDIRECT, "https://claude.ai/api/mcp/auth_callback"), "none").client


@pytest.fixture
def basic_client(db):
    """A confidential client authenticating with client_secret_basic; its secret is personas.BASIC_SECRET."""
    return personas.make_client("Backend", (personas.BASIC_REDIRECT,), "client_secret_basic",
                                secret=personas.BASIC_SECRET).client


@pytest.fixture
def public_client(db):
    """The attacker suite's public client, at personas.AGENT_REDIRECT."""
    return personas.make_client().client


@pytest.fixture
def other_client(db):
    """A second public client, at personas.OTHER_REDIRECT."""
    return personas.make_client("Other agent", (personas.OTHER_REDIRECT,)).client


@pytest.fixture
def confidential_client(db):
    """(client, its secret): client_secret_post at personas.AGENT_REDIRECT."""
    registered = personas.make_client("Confidential agent", auth_method="client_secret_post")
    return registered.client, registered.client_secret
