"""Access follows the account, end to end: two gunicorn workers on PostgreSQL and Redis. A user signs in
through the real flow and calls /mcp; then their account is deactivated, deleted or given a new password
in the database (the ORM in another process, as an operator's shell or the admin would), and the next /mcp
requests answer 401 on every worker, and refresh answers invalid_grant."""

import pytest
import requests

from mcp_client import McpOAuthClient, log_in_and_consent
from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment

pytestmark = pytest.mark.e2e

DCR_TOKEN = "account-revocation-dcr-token-0123456789abcdef"
REDIRECT_URI = "http://127.0.0.1:33418/callback"
PASSWORD = "correct-horse-battery-staple-42"
# Each request on a new connection, so the two workers share them (a kept-alive one stays on one worker).
REQUESTS_PER_CHECK = 8

TRIGGERS = {
    "deactivated": "user.is_active = False; user.save()",
    "deleted": "user.delete()",
    "new_password": "user.set_password('another-horse-battery-staple-43'); user.save()",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not e2e_redis_url():
        pytest.skip("the allow-list is shared by the workers through Redis (REDIS_URL is not set)")
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("account-revocation"), port, DCR_AUTH_TOKEN=DCR_TOKEN)
    deployment.base_url = f"http://127.0.0.1:{port}"
    deployment.start_gunicorn(port, workers=2, log_path=tmp_path_factory.mktemp("logs") / "gunicorn.log")
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


def in_shell(server, code: str) -> None:
    server.manage("shell", "-c", f"from django.contrib.auth import get_user_model; User = get_user_model(); {code}")


def signed_in_client(server, username: str) -> McpOAuthClient:
    in_shell(server, f"User.objects.create_user({username!r}, password={PASSWORD!r})")
    client = McpOAuthClient(f"{server.base_url}/mcp")
    client.discover()
    client.register(redirect_uri=REDIRECT_URI, initial_access_token=DCR_TOKEN)
    request = client.authorization_request()
    client.finish_authorization(request, log_in_and_consent(request.url, request.redirect_uri, username, PASSWORD))
    return client


def mcp_statuses(server, access_token: str) -> list[int]:
    statuses = []
    for n in range(REQUESTS_PER_CHECK):
        response = requests.post(
            f"{server.base_url}/mcp", timeout=10,
            json={"jsonrpc": "2.0", "id": n, "method": "tools/call",
                  "params": {"name": "echo", "arguments": {"message": "hi"}}},
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json, text/event-stream",
                     "MCP-Protocol-Version": "2025-06-18", "Connection": "close"})
        statuses.append(response.status_code)
    return statuses


@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
def test_a_changed_account_loses_its_tokens_on_every_worker_at_once(server, trigger):
    username = f"user-{trigger}"
    client = signed_in_client(server, username)
    tokens = client.tokens
    assert mcp_statuses(server, tokens.access_token) == [200] * REQUESTS_PER_CHECK  # cached by both workers

    in_shell(server, f"user = User.objects.get(username={username!r}); {TRIGGERS[trigger]}")

    assert mcp_statuses(server, tokens.access_token) == [401] * REQUESTS_PER_CHECK
    response = client.post_token({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
