"""Print fresh secrets for `.env` (the seed's generate_secrets.py)."""

import secrets

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print newly generated SECRET_KEY, JWT_SECRET and DCR_AUTH_TOKEN lines for a .env file."
    requires_system_checks = []

    def handle(self, *args, **options):
        self.stdout.write(f"SECRET_KEY={secrets.token_urlsafe(50)}")
        self.stdout.write(f"JWT_SECRET={secrets.token_urlsafe(32)}")
        self.stdout.write(f"DCR_AUTH_TOKEN={secrets.token_hex(32)}")
