"""The people and OAuth clients of the test suites, their known secrets, and the factories that make them.

The fixtures that hand them to tests are in tests/conftest.py; a test that needs another shape calls a
factory with arguments. Clients are made through the product's own service (oauth_app.registration), as
`manage.py register_client` makes them.
"""

from dataclasses import replace

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from oauth_app.policies import client_metadata_from_dict
from oauth_app.registration import RegisteredClient, client_create

ALICE_PASSWORD = "correct-horse-battery-staple-42"
BOB_PASSWORD = "bob-password-0123456789"

LOOPBACK_REDIRECT = "http://127.0.0.1:33418/callback"  # the Inspector's: a native app on a loopback port
SERVICENOW_REDIRECT = "https://acme.service-now.com/oauth_redirect.do"
BASIC_REDIRECT = "https://backend.example.com/cb"
AGENT_REDIRECT = "http://127.0.0.1:8765/callback"  # the attacker suite's clients
OTHER_REDIRECT = "https://other.example.com/callback"

SERVICENOW_SECRET = "servicenow-secret-" + "x" * 40
BASIC_SECRET = "basic-secret-" + "y" * 40


def make_user(username: str, password: str | None = None, **fields):
    """A user; a password is hashed with the fast hasher (PBKDF2 costs ~0.7 s per user here), and
    signing in still checks it."""
    hashed = make_password(password, hasher="machine_secret") if password else make_password(None)
    return get_user_model().objects.create(username=username, password=hashed, **fields)


def make_client(name: str = "Acme agent", redirect_uris=(AGENT_REDIRECT,), auth_method: str = "none", *,
                secret: str | None = None, policy: str = "command") -> RegisteredClient:
    """A client registered the way the register_client command registers one. `secret` replaces the
    generated secret of a confidential client with a known one (stored hashed, like any)."""
    metadata = client_metadata_from_dict(
        {"client_name": name, "redirect_uris": list(redirect_uris), "token_endpoint_auth_method": auth_method})
    registered = client_create(metadata=metadata, policy=policy, actor="tests")
    if secret is None:
        return registered
    registered.client.client_secret = secret
    registered.client.save(update_fields=["client_secret"])
    return replace(registered, client_secret=secret)

