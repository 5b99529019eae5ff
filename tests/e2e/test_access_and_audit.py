"""Access policy and audit trail on real gunicorn: two instances sharing PostgreSQL and Redis, so that a
group change made on one host takes effect on the next request on the other; and workers SIGKILLed while
their flusher holds a claimed batch, after which every answered call is still found in the audit trail."""

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from harness.load import child_pids
from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment

pytestmark = pytest.mark.e2e

TOOL_MODULES = "mcp_app.builtin,tests.e2e.access_tools"
FINANCE_TOOL = "test_finance_report"
SETUP = """
from datetime import timedelta
from types import SimpleNamespace
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value
from oauth_app.models import Client
from oauth_app.tokens import generate_access_token
finance = Group.objects.create(name="finance")
client = Client.objects.create(name="e2e", client_type=Client.CLIENT_CONFIDENTIAL,
                               authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
                               redirect_uris="https://e2e.example/cb")
for name in ("alice", "bob"):
    user = get_user_model().objects.create_user(name)
    raw = generate_access_token(SimpleNamespace(user=user, client=client, scopes=["mcp:tools"]))
    row = get_access_token_model()(user=user, application=client, scope="mcp:tools",
                                   expires=timezone.now() + timedelta(hours=1))
    set_token_value(row, raw)
    row.save()
    print("TOKEN", name, raw)
get_user_model().objects.get(username="bob").groups.add(finance)
"""


def deploy(tmp_path_factory, name, **overrides):
    if not e2e_redis_url():
        pytest.skip("these tests need Redis shared by the instances (REDIS_URL is not set)")
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp(name), port, MCP_TOOL_MODULES=TOOL_MODULES, **overrides)
    lines = deployment.manage("shell", "-c", SETUP).stdout.splitlines()
    deployment.tokens = dict(line.split()[1:] for line in lines if line.startswith("TOKEN "))
    deployment.port = port
    return deployment


def post(port, token, method, params=None, session=None):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    return (session or requests).post(f"http://127.0.0.1:{port}/mcp", data=json.dumps(body), timeout=10, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json",
        "MCP-Protocol-Version": "2025-11-25"})


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory):
    deployment = deploy(tmp_path_factory, "access")
    ports = [deployment.port, free_port()]
    try:
        for port in ports:
            deployment.start_gunicorn(port, workers=1)
        yield deployment, ports
    finally:
        deployment.stop()
        drop_database(deployment.database_url)


def tools(port, token):
    response = post(port, token, "tools/list")
    assert response.status_code == 200, response.text
    return {tool["name"] for tool in response.json()["result"]["tools"]}


def test_a_group_change_on_one_host_takes_effect_on_the_next_request_on_another(two_instances):
    deployment, (first, second) = two_instances
    alice, bob = deployment.tokens["alice"], deployment.tokens["bob"]
    assert FINANCE_TOOL in tools(second, bob)
    assert FINANCE_TOOL not in tools(first, alice) and FINANCE_TOOL not in tools(second, alice)  # both memoized
    deployment.manage("shell", "-c", "from django.contrib.auth.models import Group, User; "
                      "User.objects.get(username='alice').groups.add(Group.objects.get(name='finance'))")
    assert FINANCE_TOOL in tools(second, alice)
    assert FINANCE_TOOL in tools(first, alice)
    called = post(first, alice, "tools/call", {"name": FINANCE_TOOL, "arguments": {"quarter": "Q4"}}).json()
    assert called["result"]["content"][0]["text"] == "report Q4"
    # A grant made by a command on a third host replaces the code default on both instances at once.
    deployment.manage("grant_tool", FINANCE_TOOL, "--user", "bob")
    assert FINANCE_TOOL not in tools(second, alice) and FINANCE_TOOL not in tools(first, alice)
    assert FINANCE_TOOL in tools(first, bob)


# --- Workers killed mid-batch ---------------------------------------------------------------------------
def test_workers_killed_while_flushing_lose_no_audit_record(tmp_path_factory):
    deployment = deploy(tmp_path_factory, "audit-kill", AUDIT_FLUSH_SECONDS="1")
    store = redis.Redis.from_url(e2e_redis_url())
    claims = f"{deployment.env['CACHE_KEY_PREFIX']}:1:mcp:audit:claims"
    answered, stop, killed_mid_batch = [], threading.Event(), []
    try:
        master = deployment.start_gunicorn(deployment.port, workers=2)
        token = deployment.tokens["alice"]

        def load(_):
            session = requests.Session()
            while not stop.is_set():
                try:
                    response = post(deployment.port, token, "tools/call",
                                    {"name": "echo", "arguments": {"message": "x"}}, session)
                except requests.RequestException:
                    session = requests.Session()  # the worker died under this connection
                    continue
                if response.status_code == 200:
                    answered.append(response.headers["X-Request-ID"])

        with ThreadPoolExecutor(4) as pool:
            pool.map(load, range(4))
            deadline = time.monotonic() + 60
            while len(killed_mid_batch) < 2 and time.monotonic() < deadline:
                if store.scard(claims):  # a flusher holds a claimed batch right now: kill every worker
                    for pid in child_pids(master.pid):
                        os.kill(pid, signal.SIGKILL)
                    if store.scard(claims):
                        killed_mid_batch.append(len(answered))
                    time.sleep(2)  # gunicorn starts new workers; the load goes on
                time.sleep(0.0005)
            time.sleep(1)
            stop.set()
        assert len(killed_mid_batch) == 2, "no worker could be killed while its flusher held a batch"
        deployment.manage("flush_audit", "--reclaim-now")
        recorded = deployment.manage("shell", "-c", "from mcp_app.models import AuditRecord; "
                                     "print('IDS', *AuditRecord.objects.values_list('request_id', flat=True))").stdout
        missing = set(answered) - set(recorded.split("IDS", 1)[1].split())
        assert answered and not missing, f"{len(missing)} of {len(answered)} answered calls not recorded"
    finally:
        stop.set()
        deployment.stop()
        drop_database(deployment.database_url)
