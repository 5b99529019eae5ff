"""Scale-out: three gunicorn instances on different ports, sharing PostgreSQL and Redis, behind nginx
(deploy/nginx.conf, round-robin over them). Whatever one instance does, the others see at once:
registrations, tokens, revocations and rate-limit counts. One instance killed outright (master and
workers, SIGKILL) under load and restarted costs only the requests it had in flight: nginx sends the
rest to the others, no registration answered 201 is lost, and a token revoked meanwhile is refused by all.

To pin a step to one instance, the client's requests for the public https URL are routed straight to
that instance's port with the headers nginx adds (Host, X-Forwarded-Proto, X-Forwarded-For), from
127.0.0.1, a trusted proxy address: the instance cannot tell them from nginx's.
"""

import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
from requests.adapters import HTTPAdapter

from harness.nginx import start_nginx
from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment
from mcp_client import FlowError, McpOAuthClient, log_in_and_consent, tool_text
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.support.binaries import require_binary
from tests.support.echo_load import EchoLoad

pytestmark = [pytest.mark.e2e, pytest.mark.needs_nginx]

DCR_TOKEN = "scale-out-dcr-token-0123456789abcdef"
REDIRECT_URI = "http://127.0.0.1:33418/callback"
MCP_RATE_LIMIT = 12
METRICS_FLUSH_SECONDS = 1


INSTANCES = 3


class Cluster:
    def __init__(self, deployment, nginx, ports, logs):
        self.deployment, self.nginx, self.ports, self.logs = deployment, nginx, ports, logs
        self.processes = {}  # port -> the gunicorn master (its workers are in its process group)

    def start(self, instance: int) -> None:
        port = self.ports[instance]
        self.processes[port] = self.deployment.start_gunicorn(port, workers=1, log_path=self.logs[instance])

    def kill(self, instance: int) -> None:
        """As a crashed host: master and workers at once, no graceful shutdown."""
        process = self.processes[self.ports[instance]]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    @property
    def public_url(self) -> str:
        return self.nginx.https_url


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not e2e_redis_url():
        pytest.skip("scale-out needs Redis shared by the instances (REDIS_URL is not set)")
    nginx_binary, openssl = require_binary("nginx", "nginx-light"), require_binary("openssl", "openssl")
    ports = [free_port() for _ in range(INSTANCES)]
    deployment = make_deployment(tmp_path_factory.mktemp("scale-out"), ports[0], DCR_AUTH_TOKEN=DCR_TOKEN,
                                 RATE_LIMIT_MCP_MAX=str(MCP_RATE_LIMIT), RATE_LIMIT_MCP_WINDOW="3600",
                                 METRICS_FLUSH_SECONDS=str(METRICS_FLUSH_SECONDS))
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{TEST_USERNAME}', password='{TEST_PASSWORD}')")
    static_root = tmp_path_factory.mktemp("static")
    # deploy/nginx.conf has one `server ${NGINX_UPSTREAM};` line: the other instances join the same upstream.
    upstream = ";\n    server ".join(f"127.0.0.1:{port}" for port in ports)
    nginx = start_nginx(nginx_binary, openssl, tmp_path_factory.mktemp("nginx"), upstream, static_root)
    deployment.env["OAUTH_ISSUER"] = nginx.https_url
    logs = [tmp_path_factory.mktemp("logs") / f"gunicorn-{port}.log" for port in ports]
    try:
        cluster = Cluster(deployment, nginx, ports, logs)
        for instance in range(INSTANCES):
            cluster.start(instance)
        yield cluster
    finally:
        nginx.stop()
        deployment.stop()
        drop_database(deployment.database_url)


class Straight(HTTPAdapter):
    """Sends requests for the public URL to one instance, as nginx would forward them."""

    def __init__(self, port: int, public_host: str):
        super().__init__()
        self.port, self.public_host = port, public_host

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = urlunsplit(parts._replace(scheme="http", netloc=f"127.0.0.1:{self.port}"))
        request.headers.update({"Host": self.public_host, "X-Forwarded-Proto": "https",
                                "X-Forwarded-For": "127.0.0.1"})
        return super().send(request, **kwargs)


def through(client: McpOAuthClient, cluster: Cluster, instance: int | None) -> McpOAuthClient:
    """Routes the client's next requests to instance 0, 1 or 2, or (None) through nginx."""
    client.http.adapters.pop(cluster.public_url + "/", None)
    if instance is not None:
        client.http.mount(cluster.public_url + "/", Straight(cluster.ports[instance],
                                                             urlsplit(cluster.public_url).netloc))
    return client


@pytest.fixture
def trust_nginx_certificate(cluster, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cluster.nginx.certificate)  # log_in_and_consent's own session


def registered_client(cluster: Cluster, instance: int | None, like: McpOAuthClient | None = None) -> McpOAuthClient:
    """`like`: a client whose discovered metadata is reused (discovery's anonymous POST spends the address's
    share of the module's low /mcp rate limit)."""
    client = McpOAuthClient(f"{cluster.public_url}/mcp")
    client.http.verify = cluster.nginx.certificate
    through(client, cluster, instance)
    if like is None:
        client.discover()
    else:
        client.metadata = like.metadata
    client.register(redirect_uri=REDIRECT_URI, initial_access_token=DCR_TOKEN)
    return client


def signed_in(client: McpOAuthClient, cluster: Cluster, instance: int | None) -> McpOAuthClient:
    request = client.authorization_request()
    redirect = log_in_and_consent(request.url, request.redirect_uri, TEST_USERNAME, TEST_PASSWORD)
    through(client, cluster, instance).finish_authorization(request, redirect)
    return client


def echo(client: McpOAuthClient, message: str = "hi") -> int:
    response = client.post_mcp({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                "params": {"name": "echo", "arguments": {"message": message}}})
    if response.status_code == 200:
        assert tool_text(response.json()["result"]) == f"Echo: {message}"
    return response.status_code


def test_a_client_registered_through_one_instance_gets_tokens_through_the_other(cluster, trust_nginx_certificate):
    client = registered_client(cluster, instance=0)
    signed_in(client, cluster, instance=1)
    assert echo(client) == 200
    first_refresh_token = client.tokens.refresh_token
    through(client, cluster, 0).refresh()
    assert client.tokens.refresh_token != first_refresh_token
    assert echo(through(client, cluster, 1)) == 200


def test_a_token_revoked_through_one_instance_is_refused_by_the_other_on_the_next_request(
        cluster, trust_nginx_certificate):
    client = signed_in(registered_client(cluster, instance=None), cluster, instance=None)
    assert echo(through(client, cluster, 0)) == 200
    assert echo(through(client, cluster, 1)) == 200  # both instances have served (and cached) it
    through(client, cluster, 0).revoke(client.tokens.access_token, "access_token")
    assert echo(through(client, cluster, 1)) == 401
    assert echo(through(client, cluster, 0)) == 401


def test_rate_limits_are_counted_across_both_instances(cluster, trust_nginx_certificate):
    client = signed_in(registered_client(cluster, instance=None), cluster, instance=None)
    statuses = [echo(through(client, cluster, n % 2)) for n in range(MCP_RATE_LIMIT)]
    assert statuses == [200] * MCP_RATE_LIMIT
    assert echo(through(client, cluster, 0)) == 429
    assert echo(through(client, cluster, 1)) == 429


def test_load_through_nginx_is_spread_over_every_instance_without_errors(cluster, trust_nginx_certificate):
    clients = [signed_in(registered_client(cluster, instance=None), cluster, instance=None) for _ in range(4)]
    sizes = [len(log.read_text()) for log in cluster.logs]

    def work(client):
        return [echo(client, f"load {n}") for n in range(MCP_RATE_LIMIT - 2)]

    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = [status for batch in pool.map(work, clients) for status in batch]
    assert statuses == [200] * len(statuses)
    for log, size in zip(cluster.logs, sizes):
        served = log.read_text()[size:]
        assert served.count('"path": "/mcp"') > 0, "nginx sent nothing to one of the instances"
        assert "Traceback" not in served and '"level": "ERROR"' not in served
    assert "upstream" not in cluster.nginx.error_log()


def metric(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_each_instance_reports_the_metrics_of_both(cluster, trust_nginx_certificate):
    client = signed_in(registered_client(cluster, instance=None), cluster, instance=None)
    for n in range(4):
        assert echo(through(client, cluster, n % 2)) == 200
    time.sleep(METRICS_FLUSH_SECONDS + 1)  # every worker has added its counts to Redis
    texts = [requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text for port in cluster.ports]
    served = 'mcp_http_requests_total{endpoint="mcp",method="POST",status="200"}'
    assert metric(texts[0], served) == metric(texts[1], served) >= 4
    assert metric(texts[0], 'mcp_oauth_events_total{event="token_issued"}') >= 1
    assert metric(texts[1], 'mcp_http_request_duration_seconds_count{endpoint="oauth-token"}') >= 1


class Registrations(threading.Thread):
    """Registers clients through nginx, one after another, until stopped: the heavy writes of the load."""

    def __init__(self, cluster: Cluster, like: McpOAuthClient):
        super().__init__(daemon=True)
        self.cluster, self.like, self.running, self.client_ids, self.failures = cluster, like, True, [], []

    def run(self):
        while self.running and len(self.client_ids) < 500:
            try:
                self.client_ids.append(registered_client(self.cluster, None, like=self.like).client.client_id)
            except (FlowError, requests.RequestException) as exc:
                self.failures.append((time.monotonic(), repr(exc)[:200]))


def stored_client_ids(cluster: Cluster) -> set[str]:
    with psycopg.connect(cluster.deployment.database_url) as conn:
        return {row[0] for row in conn.execute("SELECT client_id FROM oauth_app_client")}


# At most one request in flight per load thread and the registration thread, and one upstream keepalive
# connection per thread that nginx may have just reused: what the kill may cost.
LOAD_THREADS = 4
MAX_FAILED_BY_THE_KILL = 2 * (LOAD_THREADS + 1)


def test_an_instance_killed_and_restarted_under_load_loses_only_its_in_flight_requests(
        cluster, trust_nginx_certificate):
    victim = INSTANCES - 1
    doomed = signed_in(registered_client(cluster, instance=None), cluster, instance=None)
    clients = [signed_in(registered_client(cluster, instance=None, like=doomed), cluster, instance=None)
               for _ in range(LOAD_THREADS)]
    assert [echo(through(doomed, cluster, n)) for n in range(INSTANCES)] == [200] * INSTANCES  # cached by all

    registrations = Registrations(cluster, like=doomed)
    # Each client stays under the module's rate limit (MCP_RATE_LIMIT per client): the load is paced.
    with EchoLoad(clients, max_calls=MCP_RATE_LIMIT - 1, pause=0.5) as load:
        registrations.start()
        time.sleep(1.0)
        killed_at = time.monotonic()
        cluster.kill(victim)
        time.sleep(1.0)
        through(doomed, cluster, None).revoke(doomed.tokens.access_token, "access_token")  # while it is down
        cluster.start(victim)  # returns once /health answers
        restarted_at = time.monotonic()
        time.sleep(1.5)
        registrations.running = False
        registrations.join(timeout=60)

    failures = [(answer.at, answer.status) for answer in load.failures()] + registrations.failures
    assert len(failures) <= MAX_FAILED_BY_THE_KILL, failures
    assert all(killed_at <= at <= killed_at + 1.0 for at, _ in failures), (killed_at, failures)
    assert load.answered_between(restarted_at, float("inf")) > 0
    assert len(registrations.client_ids) > 10, "the registration load did not run"
    assert set(registrations.client_ids) <= stored_client_ids(cluster), "a registration answered 201 was lost"
    # Refused by every instance: 401, or 429 once the refusals have spent the address's low budget here.
    assert {echo(through(doomed, cluster, n)) for n in range(INSTANCES)} <= {401, 429}
    fresh = signed_in(registered_client(cluster, instance=victim, like=doomed), cluster, instance=victim)
    assert echo(fresh) == 200  # the restarted instance serves again
