"""A refresh retried after a lost response (RFC 9700 section 4.14.2 allows for it): within
REFRESH_TOKEN_REUSE_GRACE_SECONDS the same client presenting the rotated token again gets a fresh,
working pair; after the grace, or from another client, it is a replay that revokes the family."""

import json

import pytest

from oauth_app.models import AuditEvent
from tests.oauth.flow import age_past_the_refresh_grace, issue_tokens, refresh
from tests.support.personas import SERVICENOW_SECRET

PING = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})


def mcp_status(http, access_token: str) -> int:
    return http.post("/mcp", PING, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {access_token}",
                     HTTP_ACCEPT="application/json, text/event-stream").status_code


def lost_refresh(browser, inspector) -> tuple[dict, dict]:
    """A refresh whose response the client never saw: (what it held, what the server sent)."""
    held = issue_tokens(browser, inspector)
    lost = refresh(browser, inspector, held["refresh_token"])
    assert lost.status_code == 200
    return held, lost.json()


def test_a_refresh_retried_within_the_grace_gets_a_working_pair(browser, inspector):
    held, lost = lost_refresh(browser, inspector)
    retry = refresh(browser, inspector, held["refresh_token"])
    assert retry.status_code == 200, retry.content
    pair = retry.json()
    assert mcp_status(browser, pair["access_token"]) == 200
    assert refresh(browser, inspector, pair["refresh_token"]).status_code == 200  # the chain goes on
    assert mcp_status(browser, lost["access_token"]) == 401  # the unseen pair is retired, not left alive
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REPLAY_DETECTED).exists()


def test_a_reuse_after_the_grace_is_a_replay_that_revokes_the_family(browser, inspector):
    held, lost = lost_refresh(browser, inspector)
    age_past_the_refresh_grace()
    replay = refresh(browser, inspector, held["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert mcp_status(browser, held["access_token"]) == 401
    assert mcp_status(browser, lost["access_token"]) == 401
    assert refresh(browser, inspector, lost["refresh_token"]).json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REPLAY_DETECTED).exists()


def test_another_client_presenting_the_rotated_token_within_the_grace_gets_invalid_grant(
        browser, inspector, servicenow_client):
    held, lost = lost_refresh(browser, inspector)
    response = refresh(browser, servicenow_client, held["refresh_token"], secret=SERVICENOW_SECRET)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert mcp_status(browser, lost["access_token"]) == 401  # a leaked token: the family goes


def test_a_second_retry_after_the_chain_moved_on_is_a_replay(browser, inspector):
    held, _ = lost_refresh(browser, inspector)
    pair = refresh(browser, inspector, held["refresh_token"]).json()
    newer = refresh(browser, inspector, pair["refresh_token"]).json()
    replay = refresh(browser, inspector, held["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert mcp_status(browser, newer["access_token"]) == 401


def test_a_revoked_refresh_token_gets_no_grace(browser, inspector):
    held = issue_tokens(browser, inspector)
    revoked = browser.post("/oauth/revoke", {"token": held["refresh_token"], "client_id": inspector.client_id})
    assert revoked.status_code == 200
    response = refresh(browser, inspector, held["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("grace", [0])
def test_with_no_grace_every_reuse_is_a_replay(browser, inspector, settings, grace):
    settings.REFRESH_TOKEN_REUSE_GRACE_SECONDS = grace
    held, lost = lost_refresh(browser, inspector)
    assert refresh(browser, inspector, held["refresh_token"]).json()["error"] == "invalid_grant"
    assert mcp_status(browser, lost["access_token"]) == 401
