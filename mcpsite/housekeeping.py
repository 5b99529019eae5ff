"""`manage.py prune`: what would otherwise grow without bound.

- the audit trail of calls older than AUDIT_RETENTION_DAYS (mcp_app.models.AuditRecord);
- expired access tokens, refresh tokens, ID tokens and authorization codes (django-oauth-toolkit's
  `clear_expired`, as `cleartokens` runs it: it keeps revoked refresh tokens until they expire, which
  reuse detection needs);
- initial access tokens past their expiry and redeemed-code records past theirs (oauth_app).

Safe from cron on several hosts at once: on PostgreSQL a session advisory lock lets one run at a time
(the others report that and stop), and every delete goes in batches of its own short transaction, so a
run never holds long locks and one cut short leaves nothing half done.
"""

import zlib
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from oauth2_provider.models import clear_expired

from mcp_app.models import AuditRecord
from oauth_app.models import InitialAccessToken, RedeemedCode

BATCH = 10_000
LOCK_ID = zlib.crc32(b"mcp-server:prune")


@contextmanager
def exclusive_run():
    """True inside when this process holds the prune lock (always true off PostgreSQL)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_ID])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])


def delete_in_batches(queryset, batch: int = BATCH) -> int:
    """Delete what the queryset matches, `batch` rows per transaction; rows another run deleted first are
    simply not counted."""
    deleted = 0
    while True:
        with transaction.atomic():
            keys = list(queryset.values_list("pk", flat=True)[:batch])
            if not keys:
                return deleted
            count, _ = queryset.model.objects.filter(pk__in=keys).delete()
            deleted += count


def prune(*, now=None, batch: int = BATCH) -> dict[str, int] | None:
    """What was deleted, by kind; None when another host is pruning right now."""
    now = now or timezone.now()
    with exclusive_run() as held:
        if not held:
            return None
        cutoff = now - timedelta(days=settings.AUDIT_RETENTION_DAYS)
        done = {"audit records": delete_in_batches(AuditRecord.objects.filter(at__lt=cutoff), batch)}
        clear_expired()
        done["initial access tokens"] = delete_in_batches(InitialAccessToken.objects.filter(expires_at__lt=now), batch)
        done["redeemed codes"] = delete_in_batches(RedeemedCode.objects.filter(expires_at__lt=now), batch)
        return done
