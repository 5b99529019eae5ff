"""List the signing keys (kid, algorithm, state, dates); never a private key."""

from django.core.management.base import BaseCommand

from oauth_app.management.table import write_table
from oauth_app.models import SigningKey


def state(key: SigningKey) -> str:
    return "retired" if key.retired_at else "active" if key.active else "verifying"


def when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


class Command(BaseCommand):
    help = "List signing keys: kid, algorithm, state (active signs, verifying still verifies, retired neither)."

    def handle(self, *args, **options):
        rows = [(key.kid, key.algorithm, state(key), when(key.created_at), when(key.rotated_at), when(key.retired_at))
                for key in SigningKey.objects.all()]
        write_table(self.stdout, ("KID", "ALG", "STATE", "CREATED", "ROTATED", "RETIRED"), rows)
