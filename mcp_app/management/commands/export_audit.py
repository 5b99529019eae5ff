"""The audit trail of calls as JSON lines on stdout (one record per line, oldest first)."""

from datetime import datetime, timezone

from django.core.management.base import BaseCommand, CommandError

from mcp_app.audit import export_lines, flush


def instant(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{option} must be an ISO 8601 date or time, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class Command(BaseCommand):
    help = "Print the audit records of [--since, --until) as JSON lines (times without a zone are UTC)."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="ISO 8601, e.g. 2026-01-01 or 2026-01-01T08:00:00Z.")
        parser.add_argument("--until", help="ISO 8601 (default: now).")

    def handle(self, *args, since, until, **options):
        start, end = instant(since, "--since"), (instant(until, "--until") if until else None)
        try:
            flush()  # what is still queued in Redis belongs in the export
        except Exception as exc:  # Redis unreachable: export what the database has, and say so
            self.stderr.write(f"Queued records not flushed ({exc}); the export has the database's records only.")
        for line in export_lines(start, end):
            self.stdout.write(line)
