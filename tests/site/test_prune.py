"""`manage.py prune` on a large seeded history: audit records past AUDIT_RETENTION_DAYS and every expired
token, grant, code and initial access token go; everything alive stays; one host at a time prunes."""

import secrets
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from mcp_app.models import AuditRecord
from mcpsite.housekeeping import LOCK_ID
from oauth_app.models import InitialAccessToken, RedeemedCode
from tests.support.personas import make_client

AccessToken, RefreshToken, Grant = get_access_token_model(), get_refresh_token_model(), get_grant_model()
OLD_AUDIT, RECENT_AUDIT = 30_000, 500


@pytest.fixture
def history(db, django_user_model, settings):
    settings.AUDIT_RETENTION_DAYS = 90
    now = timezone.now()
    alice = django_user_model.objects.create_user("alice")
    client = make_client().client
    records = [AuditRecord(at=now - timedelta(days=91 + n % 300), method="tools/call", name="echo", outcome="ok",
                           duration_ms=1.0) for n in range(OLD_AUDIT)]
    records += [AuditRecord(at=now - timedelta(days=n % 89), method="tools/call", name="echo", outcome="ok",
                            duration_ms=1.0) for n in range(RECENT_AUDIT)]
    AuditRecord.objects.bulk_create(records, batch_size=5000)

    def token(expires):
        return AccessToken(user=alice, application=client, token=secrets.token_hex(16), expires=expires,
                           scope="mcp:tools")

    AccessToken.objects.bulk_create([token(now - timedelta(days=1)) for _ in range(2000)])
    alive = AccessToken.objects.create(user=alice, application=client, token="alive", scope="mcp:tools",
                                       expires=now + timedelta(hours=1))
    RefreshToken.objects.create(user=alice, application=client, token="alive-refresh", access_token=alive)
    Grant.objects.bulk_create([Grant(user=alice, application=client, code=secrets.token_hex(16),
                                     expires=now - timedelta(minutes=5), redirect_uri="https://x.example/cb",
                                     scope="mcp:tools") for _ in range(1000)])
    InitialAccessToken.objects.bulk_create(
        [InitialAccessToken(name=f"old {n}", token_prefix="x", token_hash=secrets.token_hex(32),
                            expires_at=now - timedelta(days=1)) for n in range(300)]
        + [InitialAccessToken(name="forever", token_prefix="y", token_hash=secrets.token_hex(32))])
    RedeemedCode.objects.bulk_create(
        [RedeemedCode(code_digest=secrets.token_hex(32), client=client, token_family=secrets.token_hex(16),
                      expires_at=now - timedelta(days=1)) for _ in range(1000)])
    return alive


def test_prune_removes_audit_past_retention_and_everything_expired_and_keeps_the_rest(history, capsys):
    call_command("prune")
    assert AuditRecord.objects.count() == RECENT_AUDIT
    assert list(AccessToken.objects.values_list("token", flat=True)) == ["alive"]
    assert RefreshToken.objects.count() == 1
    assert Grant.objects.count() == 0
    assert list(InitialAccessToken.objects.values_list("name", flat=True)) == ["forever"]
    assert RedeemedCode.objects.count() == 0
    out = capsys.readouterr().out
    assert f"{OLD_AUDIT} audit records" in out and "300 initial access tokens" in out


def test_a_second_prune_finds_nothing_left(history, capsys):
    call_command("prune")
    call_command("prune")
    assert "Pruned: 0 audit records, 0 initial access tokens, 0 redeemed codes" in capsys.readouterr().out


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the prune lock is a PostgreSQL advisory lock")
def test_prune_on_another_host_at_the_same_time_waits_its_turn(history, capsys):
    params = connection.get_connection_params()
    other_host = psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port",
                                                                              "password")}, autocommit=True)
    try:
        other_host.execute("SELECT pg_advisory_lock(%s)", [LOCK_ID])
        call_command("prune")
        assert "Another host is pruning" in capsys.readouterr().out
        assert AuditRecord.objects.count() == OLD_AUDIT + RECENT_AUDIT
    finally:
        other_host.close()
    call_command("prune")
    assert AuditRecord.objects.count() == RECENT_AUDIT
