"""Retire a signing key: gone from the JWKS, and the tokens it signed are refused from the next request on."""

from django.core.management.base import BaseCommand, CommandError

from oauth_app import keys


class Command(BaseCommand):
    help = ("Retire a signing key that no longer signs (rotate first, then wait a token lifetime): it leaves "
            "the JWKS and every worker refuses its tokens from the next request on.")

    def add_arguments(self, parser):
        parser.add_argument("kid")

    def handle(self, *args, kid, **options):
        try:
            key = keys.retire(kid)
        except keys.SigningKeyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Signing key {key.kid} retired.")
