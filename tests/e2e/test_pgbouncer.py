"""PostgreSQL behind PgBouncer in transaction mode (DATABASE_TRANSACTION_POOLING): a gunicorn deployment whose
DATABASE_URL points at a real PgBouncer, with fewer server connections than clients, serves the whole OAuth +
MCP flow and a short soak (with Django's pool too, DATABASE_POOL) without a single error. Migrations ran on
PostgreSQL directly (the template database)."""

import json

import pytest

from harness.servers import drop_database, free_port, make_deployment
from harness.soak import run as soak
from mcp_client import McpOAuthClient, log_in_and_consent, tool_text
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.support.binaries import require_binary
from tests.support.pgbouncer import PgBouncer

pytestmark = pytest.mark.e2e

DCR_TOKEN = "pgbouncer-dcr-token-0123456789abcdef"
REDIRECT_URI = "http://127.0.0.1:33418/callback"
SOAK_SECONDS = 20


@pytest.fixture(scope="module")
def pgbouncer():
    import os

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("PgBouncer stands in front of PostgreSQL (DATABASE_URL is not PostgreSQL)")
    bouncer = PgBouncer(require_binary("pgbouncer", "pgbouncer"), os.environ["DATABASE_URL"])
    bouncer.start()
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="module")
def server(pgbouncer, tmp_path_factory):
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("pgbouncer"), port, DCR_AUTH_TOKEN=DCR_TOKEN,
                                 DATABASE_TRANSACTION_POOLING="true")
    deployment.env["DATABASE_URL"] = pgbouncer.route(deployment.database_url)
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{TEST_USERNAME}', password='{TEST_PASSWORD}')")
    deployment.base_url = f"http://127.0.0.1:{port}"
    deployment.log = tmp_path_factory.mktemp("logs") / "gunicorn.log"
    deployment.start_gunicorn(port, workers=2, log_path=deployment.log)
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


def test_the_whole_oauth_and_mcp_flow_runs_through_pgbouncer_in_transaction_mode(server, pgbouncer):
    client = McpOAuthClient(f"{server.base_url}/mcp")
    client.discover()
    client.register(redirect_uri=REDIRECT_URI, initial_access_token=DCR_TOKEN)
    request = client.authorization_request()
    client.finish_authorization(request, log_in_and_consent(request.url, request.redirect_uri,
                                                            TEST_USERNAME, TEST_PASSWORD))
    client.initialize()
    assert any(tool["name"] == "echo" for tool in client.list_tools())
    for n in range(10):  # more than psycopg's prepare threshold (5): nothing may be prepared on the server
        assert tool_text(client.call_tool("echo", {"message": f"m{n}"})) == f"Echo: m{n}"
    client.refresh()
    assert tool_text(client.call_tool("echo", {"message": "refreshed"})) == "Echo: refreshed"
    client.revoke(client.tokens.access_token, "access_token")
    assert client.post_mcp(client.message("tools/list")).status_code == 401

    database = server.database_url.rsplit("/", 1)[1]
    assert f"login attempt: db={database}" in pgbouncer.log_text(), "the deployment did not go through PgBouncer"
    log = server.log.read_text()
    assert "Traceback" not in log and '"level": "ERROR"' not in log


@pytest.mark.timeout(180)
def test_a_short_soak_through_pgbouncer_with_the_django_pool_has_no_error_and_no_lost_registration(pgbouncer):
    summary = soak(duration=SOAK_SECONDS, threads=3, route_database=pgbouncer.route,
                   extra_env={"DATABASE_TRANSACTION_POOLING": "true", "DATABASE_POOL": "true",
                              "DATABASE_POOL_MAX_SIZE": "2"})
    report = json.dumps(summary, indent=2)
    assert summary["problems"] == [], report
    assert summary["answers"].get("5xx", 0) == 0, report
    assert summary["lost_registrations"] == [], report
    assert summary["steps"]["lives"] >= 5, report
