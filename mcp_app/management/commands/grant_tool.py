"""Open a tool (or, with --kind, a prompt or resource) to a group, a user or a client."""

from django.core.management.base import BaseCommand, CommandError

from mcp_app.grants import GrantError, grant_create
from mcp_app.management.commands._grant_options import add_grant_arguments


class Command(BaseCommand):
    help = "Grant a tool, prompt or resource to a group, user or client (effective on the next request)."

    def add_arguments(self, parser):
        add_grant_arguments(parser)

    def handle(self, *args, name, kind, group, user, client, **options):
        try:
            grant, created = grant_create(kind=kind, name=name, group=group, user=user, client=client)
        except GrantError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Granted: {grant}" if created else f"Already granted: {grant}")
