"""Clients and tokens for the registration and administration tests, made through the real services."""

from datetime import timedelta
from types import SimpleNamespace

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model, set_token_value

from oauth_app import tokens
from oauth_app.policies import client_metadata_from_dict
from oauth_app.registration import RegisteredClient, client_create, new_secret

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def make_client(name="servicenow", redirect_uris=("https://acme.service-now.com/oauth_redirect.do",),
                auth_method="client_secret_post", policy="command") -> RegisteredClient:
    metadata = client_metadata_from_dict(
        {"client_name": name, "redirect_uris": list(redirect_uris), "token_endpoint_auth_method": auth_method})
    return client_create(metadata=metadata, policy=policy, actor="tests")


def issue_access_token(client, user) -> str:
    """A real JWT recorded like django-oauth-toolkit records it (checksum only), with its refresh token."""
    oauth_request = SimpleNamespace(user=user, client=client, scopes=["mcp:tools"])
    raw = tokens.generate_access_token(oauth_request)
    access = AccessToken(user=user, application=client, scope="mcp:tools",
                         expires=timezone.now() + timedelta(hours=1))
    set_token_value(access, raw)
    access.save()
    refresh = RefreshToken(user=user, application=client, access_token=access)
    set_token_value(refresh, new_secret())
    refresh.save()
    return raw
