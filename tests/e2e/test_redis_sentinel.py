"""Redis Sentinel: a gunicorn deployment configured with REDIS_SENTINELS and REDIS_SENTINEL_MASTER only finds
its primary through real sentinels, keeps answering while the primary is failed over to the replica under
load (failures, if any, only while the failover runs), writes to the new primary afterwards, and refuses a
token revoked after the failover on the next request.
"""

import time

import pytest

from harness.servers import drop_database, free_port, make_deployment
from mcp_client import McpOAuthClient, log_in_and_consent
from oauth_app.tokens import active_token_cache_key, token_checksum
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.support.binaries import require_binary
from tests.support.echo_load import EchoLoad, echo
from tests.support.redis_servers import SentinelGroup

pytestmark = pytest.mark.e2e

DCR_TOKEN = "sentinel-dcr-token-0123456789abcdef"
REDIRECT_URI = "http://127.0.0.1:33418/callback"
CACHE_PREFIX = "sentinel"
# A graceful failover on loopback takes about a second; what is answered after it settles must all be 200.
SETTLE_SECONDS = 2.0
MAX_FAILURES_DURING_FAILOVER = 20


@pytest.fixture(scope="module")
def sentinels(tmp_path_factory):
    group = SentinelGroup(require_binary("redis-server", "redis-server"), tmp_path_factory.mktemp("sentinel"))
    group.start()
    yield group
    group.stop()


@pytest.fixture(scope="module")
def server(sentinels, tmp_path_factory):
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("sentinel-deployment"), port, DCR_AUTH_TOKEN=DCR_TOKEN,
                                 REDIS_URL="", REDIS_SENTINELS=sentinels.addresses,
                                 REDIS_SENTINEL_MASTER=sentinels.master, REDIS_DB="0", CACHE_KEY_PREFIX=CACHE_PREFIX)
    if not deployment.database_url.startswith("postgres"):
        pytest.skip("the failover test needs PostgreSQL as the truth behind the cache")
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{TEST_USERNAME}', password='{TEST_PASSWORD}')")
    deployment.base_url = f"http://127.0.0.1:{port}"
    deployment.log = tmp_path_factory.mktemp("logs") / "gunicorn.log"
    deployment.start_gunicorn(port, workers=2, log_path=deployment.log)
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


def signed_in_client(server) -> McpOAuthClient:
    client = McpOAuthClient(f"{server.base_url}/mcp")
    client.discover()
    client.register(redirect_uri=REDIRECT_URI, initial_access_token=DCR_TOKEN)
    request = client.authorization_request()
    client.finish_authorization(request, log_in_and_consent(request.url, request.redirect_uri,
                                                            TEST_USERNAME, TEST_PASSWORD))
    return client


def allow_list_key(token: str) -> str:
    return f"{CACHE_PREFIX}:1:{active_token_cache_key(token_checksum(token))}"  # django-redis: prefix:version:key


def test_the_deployment_finds_its_primary_through_the_sentinels(server, sentinels):
    client = signed_in_client(server)
    assert echo(client) == 200
    primary = sentinels.server_on(sentinels.primary_port())
    assert primary.client().exists(allow_list_key(client.tokens.access_token))


def test_a_failover_under_load_only_fails_requests_while_it_runs_and_a_token_revoked_after_it_is_refused(
        server, sentinels):
    clients = [signed_in_client(server) for _ in range(3)]
    doomed = signed_in_client(server)
    assert echo(doomed) == 200  # its allow-list entry is cached on the old primary (and replicated)

    with EchoLoad(clients, max_calls=3000, pause=0.01) as load:
        time.sleep(1.0)
        failover_started = time.monotonic()
        new_primary = sentinels.fail_over()
        failover_done = time.monotonic()
        doomed.revoke(doomed.tokens.access_token, "access_token")
        assert echo(doomed, "after revocation") == 401
        time.sleep(SETTLE_SECONDS + 2.0)

    settled = failover_done + SETTLE_SECONDS
    assert load.answered_between(0, failover_started) > 0
    assert load.answered_between(settled, float("inf")) > 0, "nothing was answered after the failover"
    assert load.failures(end=failover_started) == []
    assert load.failures(start=settled) == [], "requests still fail after the failover settled"
    assert len(load.failures()) <= MAX_FAILURES_DURING_FAILOVER
    assert echo(doomed, "still revoked") == 401

    # Writes go to the new primary: the revocation marker and the allow-list entry of a fresh token.
    assert new_primary.client().exists(allow_list_key(doomed.tokens.access_token))
    fresh = signed_in_client(server)
    assert echo(fresh) == 200
    assert new_primary.client().exists(allow_list_key(fresh.tokens.access_token))
    assert "Traceback" not in server.log.read_text()
