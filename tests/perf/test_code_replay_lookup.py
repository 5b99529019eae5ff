"""Replay of an authorization code is refused with an indexed lookup of the redeemed code's digest:
the statements the replay runs, and the rows PostgreSQL touches for them, do not grow with the size
of the client's history (20,000 earlier grants and tokens here).

Every SELECT the replay request runs is re-run under EXPLAIN ANALYZE; the rows a plan reads (rows
returned by every node plus rows a filter threw away) are what a scan of the history would show.
"""

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from oauth_app.models import AuditEvent, RedeemedCode
from tests.oauth.flow import exchange, get_code

AccessToken = get_access_token_model()
HISTORY = 20_000
MAX_ROWS_TOUCHED = 10


def seed_history(oauth_client, user, size: int) -> None:
    """`size` earlier code exchanges of one client: redeemed codes, their tokens and their audit rows."""
    now = timezone.now()
    families = [uuid.uuid4() for _ in range(size)]
    RedeemedCode.objects.bulk_create(
        [RedeemedCode(code_digest=hashlib.sha256(f"old-{i}".encode()).hexdigest(), client=oauth_client,
                      token_family=family, expires_at=now + timedelta(days=30)) for i, family in enumerate(families)],
        batch_size=5000,
    )
    AccessToken.objects.bulk_create(
        [AccessToken(token_checksum=hashlib.sha256(f"at-{i}".encode()).hexdigest(), application=oauth_client,
                     user=user, scope="mcp:tools", expires=now + timedelta(hours=1)) for i in range(size)],
        batch_size=5000,
    )
    AuditEvent.objects.bulk_create(
        [AuditEvent(kind=AuditEvent.Kind.TOKEN_ISSUED, client_id=oauth_client.client_id,
                    details={"token_family": str(family)}) for family in families],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def rows_touched(node: dict) -> int:
    own = node.get("Actual Rows", 0) * node.get("Actual Loops", 1) + node.get("Rows Removed by Filter", 0)
    return own + sum(rows_touched(child) for child in node.get("Plans", []))


def replay_cost(browser, oauth_client) -> tuple[int, int, str]:
    """(SQL statements, rows read by its SELECTs, the plans) of one replayed code exchange."""
    code, verifier, _ = get_code(browser, oauth_client)
    assert exchange(browser, oauth_client, code, verifier).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        replay = exchange(browser, oauth_client, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    touched, plans = 0, []
    with connection.cursor() as cursor:
        for sql in statements:
            if sql.lstrip().upper().startswith("SELECT"):
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                plan = cursor.fetchone()[0]
                plan = json.loads(plan) if isinstance(plan, str) else plan
                touched += rows_touched(plan[0]["Plan"])
                plans.append(json.dumps(plan[0]["Plan"])[:400])
    lookup = [sql for sql in statements if 'FROM "oauth_app_redeemedcode"' in sql]
    assert len(lookup) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + lookup[0])
        plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return len(statements), touched, "\n".join(plans)


@pytest.mark.django_db
def test_a_replayed_code_is_found_by_index_however_long_the_client_history(browser, inspector, alice):
    small_statements, small_rows, _ = replay_cost(browser, inspector)
    seed_history(inspector, alice, HISTORY)
    statements, rows, plans = replay_cost(browser, inspector)
    assert statements == small_statements
    assert rows <= MAX_ROWS_TOUCHED, plans
    assert small_rows <= MAX_ROWS_TOUCHED
    assert "Index Scan using oauth_app_redeemedcode_code_digest" in plans, plans  # the unique index
