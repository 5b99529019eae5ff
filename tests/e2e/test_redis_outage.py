"""Redis outage: with the Redis server really stopped during load, authenticated /mcp requests keep being
answered correctly from PostgreSQL, a token revoked meanwhile stays refused, and when Redis is back the
token check returns to the cache (the allow-list entry is written again and read on the next request).

The test owns its Redis server (its own port, nothing saved to disk), so stopping it touches nobody else.
"""

import threading
import time

import pytest

from harness.servers import drop_database, free_port, make_deployment
from mcp_client import McpOAuthClient, log_in_and_consent, tool_text
from oauth_app.tokens import active_token_cache_key, token_checksum
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.support.binaries import require_binary
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.e2e

DCR_TOKEN = "redis-outage-dcr-token-0123456789abcdef"
REDIRECT_URI = "http://127.0.0.1:33418/callback"
CACHE_PREFIX = "outage"


@pytest.fixture(scope="module")
def own_redis():
    server = RedisServer(require_binary("redis-server", "redis-server"), free_port())
    server.start()
    yield server
    server.stop(for_good=True)


@pytest.fixture(scope="module")
def server(own_redis, tmp_path_factory):
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("redis-outage"), port, DCR_AUTH_TOKEN=DCR_TOKEN,
                                 REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/0", CACHE_KEY_PREFIX=CACHE_PREFIX)
    if not deployment.database_url.startswith("postgres"):
        pytest.skip("the outage test needs PostgreSQL as the truth behind the cache")
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{TEST_USERNAME}', password='{TEST_PASSWORD}')")
    deployment.base_url = f"http://127.0.0.1:{port}"
    deployment.start_gunicorn(port, workers=2, log_path=tmp_path_factory.mktemp("logs") / "gunicorn.log")
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


def echo(client: McpOAuthClient, message: str) -> int:
    response = client.post_mcp({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                "params": {"name": "echo", "arguments": {"message": message}}})
    if response.status_code == 200:
        assert tool_text(response.json()["result"]) == f"Echo: {message}"
    return response.status_code


def allow_list_key(token: str) -> str:
    return f"{CACHE_PREFIX}:1:{active_token_cache_key(token_checksum(token))}"  # django-redis: prefix:version:key


class Load:
    """Threads sending echo calls with one token until stopped; every status is kept."""

    def __init__(self, client: McpOAuthClient, threads: int = 3):
        self.client, self.statuses, self.running = client, [], True
        self.threads = [threading.Thread(target=self.work, args=(n,)) for n in range(threads)]

    def work(self, n: int) -> None:
        count = 0
        while self.running:
            count += 1
            self.statuses.append(echo(self.client, f"load {n}-{count}"))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=30)


def test_with_redis_stopped_requests_are_answered_from_postgresql_and_a_revoked_token_stays_refused(
        server, own_redis):
    steady, doomed = signed_in_client(server), signed_in_client(server)
    assert echo(steady, "before") == 200 and echo(doomed, "before") == 200
    assert own_redis.client().exists(allow_list_key(steady.tokens.access_token))  # the cache path

    with Load(steady) as load:
        time.sleep(0.5)
        own_redis.stop()
        time.sleep(1.5)
        answered_during_outage = len(load.statuses)
        doomed.revoke(doomed.tokens.access_token, "access_token")  # the allow-list cannot be told
        assert echo(doomed, "after revocation") == 401
        time.sleep(1.5)
        outage_statuses = load.statuses[answered_during_outage:]
    assert outage_statuses, "no request was answered while Redis was down"
    assert set(load.statuses) == {200}, sorted(set(load.statuses))

    own_redis.start()  # empty: everything it held is gone
    assert echo(doomed, "still revoked") == 401
    assert echo(steady, "back") == 200
    assert own_redis.client().exists(allow_list_key(steady.tokens.access_token)), \
        "the token check did not return to the cache"
    key = allow_list_key(steady.tokens.access_token)
    commands = commands_during(own_redis, lambda: echo(steady, "cached"))
    assert [c for c in commands if key in c] == [f"GET {key}"], commands  # a cache hit: read, not written


def commands_during(own_redis: RedisServer, action) -> list[str]:
    """The commands Redis executed while `action` ran (MONITOR, up to a marker sent after it)."""
    marker = "end-of-action-marker"
    with own_redis.client().monitor() as monitor:
        action()
        own_redis.client().echo(marker)
        commands = []
        while True:
            command = monitor.next_command()["command"]
            if marker in command:
                return commands
            commands.append(command)
