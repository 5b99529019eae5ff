"""Revoke an initial access token: it registers nothing from now on."""

from django.core.management.base import BaseCommand, CommandError

from oauth_app.models import InitialAccessToken
from oauth_app.registration import dcr_token_find, dcr_token_revoke


class Command(BaseCommand):
    help = "Revoke an initial access token, given its id or prefix (as list_dcr_tokens shows them)."

    def add_arguments(self, parser):
        parser.add_argument("token", help="The token's id or prefix.")

    def handle(self, *args, token, **options):
        try:
            found = dcr_token_find(token)
        except InitialAccessToken.DoesNotExist as exc:
            raise CommandError(str(exc)) from None
        if dcr_token_revoke(token=found, actor="command:revoke_dcr_token"):
            self.stdout.write(f"Revoked initial access token {found.pk} '{found.name}'.")
        else:
            self.stdout.write(f"Initial access token {found.pk} '{found.name}' was already revoked.")
