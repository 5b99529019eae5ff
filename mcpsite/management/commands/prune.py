"""Delete audit records past retention and expired tokens, grants, codes and initial access tokens."""

from django.core.management.base import BaseCommand

from mcpsite.housekeeping import prune


class Command(BaseCommand):
    help = ("Delete audit records older than AUDIT_RETENTION_DAYS and every expired token, grant, code and "
            "initial access token. Safe to run from cron on several hosts at once.")

    def handle(self, *args, **options):
        done = prune()
        if done is None:
            self.stdout.write("Another host is pruning right now; nothing to do.")
            return
        self.stdout.write("Pruned: " + ", ".join(f"{count} {kind}" for kind, count in done.items())
                          + " (and expired OAuth tokens and grants, as cleartokens does).")
