"""Create a new signing key; it signs new access tokens from now on, the previous one keeps verifying."""

from django.core.management.base import BaseCommand, CommandError

from oauth_app import keys


class Command(BaseCommand):
    help = ("Create a new active signing key (ES256 or RS256). Tokens signed by older keys keep working until "
            "those keys are retired (manage.py retire_signing_key). Prints the new kid, never a private key.")

    def add_arguments(self, parser):
        parser.add_argument("--algorithm", choices=keys.ASYMMETRIC,
                            help="Default: JWT_ALGORITHM when it is ES256 or RS256, else ES256.")

    def handle(self, *args, algorithm, **options):
        try:
            key = keys.rotate(algorithm)
        except keys.SigningKeyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"New signing key {key.kid} ({key.algorithm}) signs new access tokens.")
        if not keys.is_asymmetric():
            self.stdout.write("JWT_ALGORITHM is HS256: the key is used once JWT_ALGORITHM is ES256 or RS256.")
