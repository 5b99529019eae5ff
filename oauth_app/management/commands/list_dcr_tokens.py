"""List initial access tokens (never their values: only a prefix is kept in clear)."""

from django.core.management.base import BaseCommand

from oauth_app.management.table import write_table
from oauth_app.models import InitialAccessToken


def status(token: InitialAccessToken) -> str:
    for flag, label in ((token.is_revoked, "revoked"), (token.is_expired, "expired"), (token.is_exhausted, "used up")):
        if flag:
            return label
    return "active"


class Command(BaseCommand):
    help = "List initial access tokens: id, prefix, name, status, uses and expiry."

    def add_arguments(self, parser):
        parser.add_argument("--active", action="store_true", help="Only tokens that can still register clients.")

    def handle(self, *args, active, **options):
        rows = [(str(t.pk), t.token_prefix, t.name, status(t),
                 f"{t.uses}/{t.max_uses if t.max_uses is not None else '-'}",
                 f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never")
                for t in InitialAccessToken.objects.all()]
        if active:
            rows = [row for row in rows if row[3] == "active"]
        write_table(self.stdout, ("ID", "PREFIX", "NAME", "STATUS", "USES", "EXPIRES"), rows)
