"""Initial access tokens: hashed storage, expiry, use limits that hold under concurrency, revocation."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.test import override_settings

from oauth_app.hashers import token_digest
from oauth_app.models import AuditEvent, Client, InitialAccessToken
from oauth_app.policies import client_metadata_from_dict
from oauth_app.registration import (
    InvalidBearerToken, RegistrationGrant, client_register, dcr_token_consume, dcr_token_issue, dcr_token_revoke,
    dcr_token_verify, parse_duration,
)

METADATA = {"client_name": "claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]}


def test_a_dcr_token_is_stored_hashed_with_a_recognisable_prefix(db):
    token, raw = dcr_token_issue(name="servicenow-prod", max_uses=3)
    assert len(raw) >= 4 + 43  # "dcr_" + 256 random bits
    assert token.token_hash == token_digest(raw)
    assert raw not in json.dumps(list(InitialAccessToken.objects.values()), default=str)
    assert raw.startswith(token.token_prefix)
    event = AuditEvent.objects.get(kind="dcr_token_issued")
    assert event.details["name"] == "servicenow-prod" and raw not in json.dumps(event.details)


@pytest.mark.parametrize("text,expected", [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)),
                                           ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2))])
def test_durations_read_like_the_command_line(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "0d", "-1d", "7y", "d7"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_verify_refuses_unknown_expired_exhausted_and_revoked_tokens(db):
    token, raw = dcr_token_issue(name="t", max_uses=1)
    assert dcr_token_verify(raw).token_id == token.pk
    with pytest.raises(InvalidBearerToken, match="not valid"):
        dcr_token_verify(raw + "x")
    InitialAccessToken.objects.filter(pk=token.pk).update(uses=1)
    with pytest.raises(InvalidBearerToken, match="no uses left"):
        dcr_token_verify(raw)
    InitialAccessToken.objects.filter(pk=token.pk).update(uses=0, expires_at="2020-01-01T00:00:00Z")
    with pytest.raises(InvalidBearerToken, match="expired"):
        dcr_token_verify(raw)
    InitialAccessToken.objects.filter(pk=token.pk).update(expires_at=None)
    assert dcr_token_revoke(token=token, actor="tests")
    assert not dcr_token_revoke(token=token, actor="tests")  # idempotent, audited once
    with pytest.raises(InvalidBearerToken, match="revoked"):
        dcr_token_verify(raw)
    assert AuditEvent.objects.filter(kind="dcr_token_revoked").count() == 1


def test_consume_refuses_a_token_revoked_after_it_was_verified(db):
    token, raw = dcr_token_issue(name="t")
    grant = dcr_token_verify(raw)
    dcr_token_revoke(token=token)
    with pytest.raises(InvalidBearerToken):
        client_register(metadata=client_metadata_from_dict(METADATA), grant=grant)
    assert Client.objects.count() == 0


@override_settings(DCR_AUTH_TOKEN="")
def test_an_empty_seed_token_setting_accepts_nothing(db):
    with pytest.raises(InvalidBearerToken):
        dcr_token_verify("")


@pytest.mark.django_db(transaction=True)
def test_max_uses_holds_under_concurrent_registrations():
    token, raw = dcr_token_issue(name="race", max_uses=3)
    grant = dcr_token_verify(raw)
    metadata = client_metadata_from_dict(METADATA)
    barrier = threading.Barrier(8)
    outcomes = []

    def attempt():
        try:
            barrier.wait(timeout=10)
            client_register(metadata=metadata, grant=RegistrationGrant(grant.policy, grant.token_id, grant.label))
            outcomes.append("registered")
        except InvalidBearerToken:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused"] * 5 + ["registered"] * 3
    token.refresh_from_db()
    assert token.uses == 3
    assert Client.objects.filter(initial_access_token=token).count() == 3


def test_consume_counts_uses_and_last_use(db):
    token, _ = dcr_token_issue(name="t", max_uses=2)
    dcr_token_consume(token.pk)
    dcr_token_consume(token.pk)
    with pytest.raises(InvalidBearerToken):
        dcr_token_consume(token.pk)
    token.refresh_from_db()
    assert token.uses == 2 and token.last_used_at is not None
