"""Revoke a client's tokens and/or disable it (the shell version of the admin actions)."""

from django.core.management.base import BaseCommand, CommandError

from oauth_app.models import Client
from oauth_app.registration import client_disable, client_enable, client_revoke_tokens

ACTOR = "command:revoke_client"


class Command(BaseCommand):
    help = "Revoke every token of a client (the default), and/or disable it; --enable restores a disabled client."

    def add_arguments(self, parser):
        parser.add_argument("client_id")
        parser.add_argument("--disable", action="store_true", help="Also disable the client: it gets no new tokens.")
        parser.add_argument("--keep-tokens", action="store_true", help="With --disable: keep the token rows "
                            "(they stop working while the client is disabled and work again if it is enabled).")
        parser.add_argument("--enable", action="store_true", help="Enable a disabled client again (nothing else).")

    def handle(self, *args, client_id, disable, keep_tokens, enable, **options):
        if enable and (disable or keep_tokens):
            raise CommandError("--enable cannot be combined with --disable or --keep-tokens")
        if keep_tokens and not disable:
            raise CommandError("--keep-tokens only makes sense with --disable")
        client = Client.objects.filter(client_id=client_id).first()
        if client is None:
            raise CommandError(f"no client with client_id {client_id!r}")
        if enable:
            client_enable(client=client, actor=ACTOR)
            self.stdout.write(f"Enabled client {client_id}.")
            return
        if not keep_tokens:
            count = client_revoke_tokens(client=client, actor=ACTOR)
            self.stdout.write(f"Revoked {count} access token(s) of client {client_id}.")
        if disable:
            client_disable(client=client, actor=ACTOR)
            self.stdout.write(f"Disabled client {client_id}.")
