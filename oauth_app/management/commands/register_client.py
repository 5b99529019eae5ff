"""Register a client from the shell (pre-registered clients, e.g. ServiceNow with client_secret_post, or a
machine client with --grant-type client_credentials)."""

import json

from django.core.management.base import BaseCommand, CommandError

from oauth_app.capabilities import AUTHORIZATION_CODE, CLIENT_CREDENTIALS
from oauth_app.models import Client, RegistrationPolicy, TokenEndpointAuthMethod
from oauth_app.policies import RegistrationError, client_metadata_from_dict
from oauth_app.registration import client_create


class Command(BaseCommand):
    help = "Register an OAuth client. Prints the client_id and, for a confidential client, its secret, once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris",
                            help="Repeat for several URIs (required unless --grant-type client_credentials).")
        parser.add_argument("--grant-type", choices=[AUTHORIZATION_CODE, CLIENT_CREDENTIALS],
                            default=AUTHORIZATION_CODE,
                            help="client_credentials: a machine client acting for itself (no user, no redirect).")
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--public", action="store_true", help="No secret (token_endpoint_auth_method none).")
        kind.add_argument("--confidential", action="store_true", help="With a secret (the default).")
        parser.add_argument("--auth-method", choices=[TokenEndpointAuthMethod.CLIENT_SECRET_BASIC,
                                                      TokenEndpointAuthMethod.CLIENT_SECRET_POST,
                                                      TokenEndpointAuthMethod.PRIVATE_KEY_JWT],
                            default=TokenEndpointAuthMethod.CLIENT_SECRET_BASIC,
                            help="How a confidential client authenticates at the token endpoint.")
        keys = parser.add_mutually_exclusive_group()
        keys.add_argument("--jwks-uri", help="private_key_jwt: the https URL of the client's public keys.")
        keys.add_argument("--jwks", help="private_key_jwt: the client's public keys, a JWK Set as JSON.")
        parser.add_argument("--scope", default="", help="Space-separated scopes (default: the default scopes).")
        parser.add_argument("--no-pkce", action="store_true",
                            help="Confidential clients only: do not require PKCE (for clients that cannot send it).")

    def handle(self, *args, name, redirect_uris, grant_type, public, auth_method, jwks_uri, jwks, scope, no_pkce,
               **options):
        if public and no_pkce:
            raise CommandError("public clients always use PKCE")
        try:
            keys = {"jwks_uri": jwks_uri} if jwks_uri else {"jwks": json.loads(jwks)} if jwks else {}
        except ValueError:
            raise CommandError("--jwks must be a JWK Set in JSON") from None
        try:
            metadata = client_metadata_from_dict({
                "client_name": name, "redirect_uris": redirect_uris, "scope": scope,
                **({"grant_types": [CLIENT_CREDENTIALS]} if grant_type == CLIENT_CREDENTIALS else {}),
                "token_endpoint_auth_method": TokenEndpointAuthMethod.NONE if public else auth_method, **keys,
            })
            created = client_create(metadata=metadata, policy=RegistrationPolicy.COMMAND,
                                    actor="command:register_client", instance=Client(require_pkce=not no_pkce),
                                    require_pkce=not no_pkce)
        except RegistrationError as exc:
            raise CommandError(f"{exc.error}: {exc.description}") from None
        kind = "machine" if metadata.is_machine else "public" if public else "confidential"
        self.stdout.write(f"Registered {kind} client '{name}' "
                          f"(token_endpoint_auth_method {metadata.token_endpoint_auth_method}).")
        self.stdout.write(f"client_id: {created.client.client_id}")
        if created.client_secret:
            self.stdout.write(f"client_secret: {created.client_secret}")
            self.stdout.write("The secret is stored hashed and is not shown again.")
