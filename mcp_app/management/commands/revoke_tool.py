"""Take back a grant made with grant_tool (or in the admin)."""

from django.core.management.base import BaseCommand, CommandError

from mcp_app.grants import GrantError, grant_delete
from mcp_app.management.commands._grant_options import add_grant_arguments


class Command(BaseCommand):
    help = "Revoke a grant of a tool, prompt or resource (effective on the next request)."

    def add_arguments(self, parser):
        add_grant_arguments(parser)

    def handle(self, *args, name, kind, group, user, client, **options):
        try:
            deleted = grant_delete(kind=kind, name=name, group=group, user=user, client=client)
        except GrantError as exc:
            raise CommandError(str(exc)) from None
        who = f"group {group}" if group else f"user {user}" if user else f"client {client}"
        self.stdout.write(f"Revoked: {kind} {name} → {who}" if deleted else f"No such grant: {kind} {name} → {who}")
