"""Scale-out: two gunicorn instances on different ports, sharing PostgreSQL and Redis, behind nginx
(deploy/nginx.conf, round-robin over both). Whatever one instance does, the other sees at once:
registrations, tokens, revocations and rate-limit counts.

To pin a step to one instance, the client's requests for the public https URL are routed straight to
that instance's port with the headers nginx adds (Host, X-Forwarded-Proto, X-Forwarded-For), from
127.0.0.1, a trusted proxy address: the instance cannot tell them from nginx's.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from harness.nginx import start_nginx
from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment
from mcp_client import McpOAuthClient, log_in_and_consent, tool_text
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.support.binaries import require_binary

pytestmark = [pytest.mark.e2e, pytest.mark.needs_nginx]

DCR_TOKEN = "scale-out-dcr-token-0123456789abcdef"
REDIRECT_URI = "http://127.0.0.1:33418/callback"
MCP_RATE_LIMIT = 12
METRICS_FLUSH_SECONDS = 1


class Cluster:
    def __init__(self, deployment, nginx, ports, logs):
        self.deployment, self.nginx, self.ports, self.logs = deployment, nginx, ports, logs

    @property
    def public_url(self) -> str:
        return self.nginx.https_url


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not e2e_redis_url():
        pytest.skip("scale-out needs Redis shared by the instances (REDIS_URL is not set)")
    nginx_binary, openssl = require_binary("nginx", "nginx-light"), require_binary("openssl", "openssl")
    ports = [free_port(), free_port()]
    deployment = make_deployment(tmp_path_factory.mktemp("scale-out"), ports[0], DCR_AUTH_TOKEN=DCR_TOKEN,
                                 RATE_LIMIT_MCP_MAX=str(MCP_RATE_LIMIT), RATE_LIMIT_MCP_WINDOW="3600",
                                 METRICS_FLUSH_SECONDS=str(METRICS_FLUSH_SECONDS))
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('{TEST_USERNAME}', password='{TEST_PASSWORD}')")
    static_root = tmp_path_factory.mktemp("static")
    # deploy/nginx.conf has one `server ${NGINX_UPSTREAM};` line: the second instance joins the same upstream.
    upstream = f"127.0.0.1:{ports[0]};\n    server 127.0.0.1:{ports[1]}"
    nginx = start_nginx(nginx_binary, openssl, tmp_path_factory.mktemp("nginx"), upstream, static_root)
    deployment.env["OAUTH_ISSUER"] = nginx.https_url
    logs = [tmp_path_factory.mktemp("logs") / f"gunicorn-{port}.log" for port in ports]
    try:
        for port, log in zip(ports, logs):
            deployment.start_gunicorn(port, workers=1, log_path=log)
        yield Cluster(deployment, nginx, ports, logs)
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
    """Routes the client's next requests to instance 0 or 1, or (None) through nginx."""
    client.http.adapters.pop(cluster.public_url + "/", None)
    if instance is not None:
        client.http.mount(cluster.public_url + "/", Straight(cluster.ports[instance],
                                                             urlsplit(cluster.public_url).netloc))
    return client


@pytest.fixture
def trust_nginx_certificate(cluster, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cluster.nginx.certificate)  # log_in_and_consent's own session


def registered_client(cluster: Cluster, instance: int | None) -> McpOAuthClient:
    client = McpOAuthClient(f"{cluster.public_url}/mcp")
    client.http.verify = cluster.nginx.certificate
    through(client, cluster, instance)
    client.discover()
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


def test_load_through_nginx_is_spread_over_both_instances_without_errors(cluster, trust_nginx_certificate):
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
