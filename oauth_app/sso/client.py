"""The relying-party side of the upstream OpenID Connect sign-in, done by Authlib.

Authlib does the protocol: discovery, PKCE (S256), `state` and `nonce` kept in the session, the code
exchange, and the ID token's signature (keys from the discovery's JWKS, fetched again when a token names
a key id it does not know: key rotation) and claims (iss, aud, exp, iat, nonce). This module turns its
outcomes into a `SignInError` a person can act on.
"""

import functools
import logging
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.urls import reverse
from joserfc.errors import JoseError

logger = logging.getLogger(__name__)

PROVIDER = "idp"
# Seconds we wait for the IdP (discovery, JWKS, token endpoint) before telling the person it is unreachable.
IDP_TIMEOUT = 10
NEXT_SESSION_KEY = "oidc_next"
# Callback errors (OpenID Connect Core 3.1.2.6) that mean the person was not let in, rather than a fault.
DENIALS = ("access_denied", "login_required", "consent_required", "interaction_required")


class SignInError(Exception):
    """A sign-in that cannot go on; `kind` picks the page's explanation (templates/sso/error.html)."""

    def __init__(self, kind: str, detail: str = "", status: int = 400):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.status = kind, detail, status


def is_enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


@functools.lru_cache(maxsize=4)
def _app(issuer: str, client_id: str, client_secret: str, scopes: str):
    # One Authlib app per configuration (tests override settings); it caches discovery and JWKS per worker.
    registry = OAuth()
    return registry.register(
        name=PROVIDER,
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": scopes, "code_challenge_method": "S256", "default_timeout": IDP_TIMEOUT},
    )


def provider():
    return _app(settings.OIDC_ISSUER, settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET, settings.OIDC_SCOPES)


def callback_uri() -> str:
    return settings.OAUTH_ISSUER + reverse("oidc-callback")


def metadata() -> dict:
    """The IdP's discovery document, which must name the issuer we were configured with."""
    try:
        document = provider().load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OpenID provider unreachable: %s", exc)
        raise SignInError("unreachable", str(exc), status=502) from None
    if str(document.get("issuer", "")).rstrip("/") != settings.OIDC_ISSUER:
        raise SignInError("misconfigured", f"discovery names issuer {document.get('issuer')!r}", status=502)
    return document


def start(request, next_url: str) -> str:
    """The IdP authorization URL for this browser; state, nonce and PKCE verifier stay in its session."""
    metadata()
    app = provider()
    try:
        found = app.create_authorization_url(callback_uri())
    except requests.RequestException as exc:
        raise SignInError("unreachable", str(exc), status=502) from None
    app.save_authorize_data(request, redirect_uri=callback_uri(), **found)
    request.session[NEXT_SESSION_KEY] = next_url
    return found["url"]


def finish(request) -> dict:
    """The validated ID token claims of the IdP's answer on our callback."""
    if request.GET.get("error"):
        kind = "denied" if request.GET["error"] in DENIALS else "idp_error"
        raise SignInError(kind, request.GET.get("error_description") or request.GET["error"])
    issuer = metadata()["issuer"]
    # Authlib checks aud only through azp when no option names it: ask for our client id in aud, always.
    options = {"iss": {"essential": True, "value": issuer},
               "aud": {"essential": True, "value": settings.OIDC_CLIENT_ID}}
    try:
        token = provider().authorize_access_token(request, claims_options=options)
    except MismatchingStateError:
        raise SignInError("state") from None
    except OAuthError as exc:
        raise SignInError("idp_error", exc.description or exc.error) from None
    except requests.RequestException as exc:
        raise SignInError("unreachable", str(exc), status=502) from None
    except (JoseError, ValueError) as exc:  # a bad signature, issuer, audience, expiry or nonce
        logger.warning("ID token refused: %s", exc)
        raise SignInError("bad_token", str(exc)) from None
    if "userinfo" not in token:
        raise SignInError("bad_token", "the provider returned no ID token")
    return dict(token["userinfo"])


def next_url(request) -> str:
    return request.session.get(NEXT_SESSION_KEY) or settings.LOGIN_REDIRECT_URL


def provider_host() -> str:
    return urlsplit(settings.OIDC_ISSUER).hostname or ""
