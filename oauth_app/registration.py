"""Client registration and administration services (RFC 7591, RFC 7592), and initial access tokens.

Views, the admin and the management commands are thin shells over the functions here. Every secret is
generated here, shown once to whoever asked for it, and stored hashed: client secrets with
OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"] (oauth_app.hashers), initial access tokens and registration
access tokens as SHA-256 digests (`token_digest`), looked up by digest and compared in constant time.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from oauth2_provider.cimd import CIMDError
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from oauth_app import audit
from oauth_app.dot_seam import MetadataFetcherSeam, parse_bearer_token
from oauth_app.hashers import token_digest
from oauth_app.models import AuditEvent, Client, InitialAccessToken, RegistrationPolicy, TokenEndpointAuthMethod
from oauth_app.policies import ClientMetadata, RegistrationError, client_metadata_from_dict

SECRET_BYTES = 32  # 256 bits of entropy for client secrets and tokens
DCR_TOKEN_PREFIX = "dcr_"
SETTINGS_TOKEN_LABEL = "DCR_AUTH_TOKEN (settings)"
Kind = AuditEvent.Kind


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


# --- Initial access tokens (RFC 7591 section 3) ------------------------------------------------------

class InvalidBearerToken(RegistrationError):
    def __init__(self, description: str):
        super().__init__("invalid_token", description, status=401)


@dataclass(frozen=True)
class RegistrationGrant:
    """What allowed a registration: the policy, and the initial access token row when there is one."""

    policy: str
    token_id: int | None = None
    label: str = ""


DURATION_RE = re.compile(r"^(\d+)([smhdw])$")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'30m', '12h', '7d', '2w' → timedelta."""
    match = DURATION_RE.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid duration {text!r}: use a positive number followed by s, m, h, d or w (e.g. 7d)")
    return timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


def dcr_token_issue(
    *, name: str, expires_in: timedelta | None = None, max_uses: int | None = None, actor: str = ""
) -> tuple[InitialAccessToken, str]:
    """Create an initial access token; the raw value is returned once and only its digest is kept."""
    if max_uses is not None and max_uses < 1:
        raise ValueError("max_uses must be at least 1")
    raw = new_secret(DCR_TOKEN_PREFIX)
    token = InitialAccessToken.objects.create(
        name=name,
        token_prefix=raw[:12],
        token_hash=token_digest(raw),
        expires_at=timezone.now() + expires_in if expires_in else None,
        max_uses=max_uses,
    )
    audit.record(Kind.DCR_TOKEN_ISSUED, actor=actor, token_id=token.pk, name=name, prefix=token.token_prefix,
                 expires_at=token.expires_at.isoformat() if token.expires_at else None, max_uses=max_uses)
    return token, raw


def dcr_token_verify(raw: str | None) -> RegistrationGrant:
    """Is this bearer value an acceptable initial access token? Read-only; `dcr_token_consume` spends it."""
    if not raw:
        raise InvalidBearerToken("an initial access token is required (Authorization: Bearer <token>)")
    if settings.DCR_AUTH_TOKEN and constant_time_compare(raw, settings.DCR_AUTH_TOKEN):
        return RegistrationGrant(RegistrationPolicy.INITIAL_ACCESS_TOKEN, None, SETTINGS_TOKEN_LABEL)
    token = InitialAccessToken.objects.filter(token_hash=token_digest(raw)).first()
    if token is None:
        raise InvalidBearerToken("the initial access token is not valid")
    if token.is_revoked:
        raise InvalidBearerToken("the initial access token has been revoked")
    if token.is_expired:
        raise InvalidBearerToken("the initial access token has expired")
    if token.is_exhausted:
        raise InvalidBearerToken("the initial access token has no uses left")
    return RegistrationGrant(RegistrationPolicy.INITIAL_ACCESS_TOKEN, token.pk, str(token))


def dcr_token_consume(token_id: int) -> None:
    """Spend one use. A single conditional UPDATE, so `max_uses` holds under concurrent registrations."""
    now = timezone.now()
    spent = (
        InitialAccessToken.objects.filter(pk=token_id, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")))
        .update(uses=F("uses") + 1, last_used_at=now)
    )
    if not spent:
        raise InvalidBearerToken("the initial access token is no longer valid")


def dcr_token_revoke(*, token: InitialAccessToken, actor: str = "", request=None) -> bool:
    """Revoke a token (idempotent); return False when it already was."""
    revoked = InitialAccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    if revoked:
        audit.record(Kind.DCR_TOKEN_REVOKED, actor=actor, request=request, token_id=token.pk, name=token.name,
                     prefix=token.token_prefix)
    return bool(revoked)


def dcr_token_find(identifier: str) -> InitialAccessToken:
    """By primary key or by the token's prefix (as `list_dcr_tokens` shows them)."""
    tokens = InitialAccessToken.objects.filter(
        Q(pk=int(identifier)) if identifier.isdigit() else Q(token_prefix=identifier[:12])
    )
    if len(tokens) != 1:
        raise InitialAccessToken.DoesNotExist(f"no single initial access token matches {identifier!r}")
    return tokens[0]


# --- Registration (RFC 7591) -----------------------------------------------------------------------

def registration_authorize(request) -> RegistrationGrant:
    """Which policy lets this request register? A presented token must be valid even when DCR is open.

    Open registration is rate limited per address with the other /oauth/ endpoints (oauth_app.ratelimit).
    """
    raw = parse_bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
    if raw is None and settings.DCR_OPEN_REGISTRATION:
        return RegistrationGrant(RegistrationPolicy.OPEN, None, "open registration")
    return dcr_token_verify(raw)


@dataclass(frozen=True)
class RegisteredClient:
    client: Client
    client_secret: str | None  # raw, confidential clients only; never stored
    registration_access_token: str  # raw; only its digest is stored


def client_fields(metadata: ClientMetadata) -> dict:
    return {
        "name": metadata.client_name,
        "redirect_uris": " ".join(metadata.redirect_uris),
        "token_endpoint_auth_method": metadata.token_endpoint_auth_method,
        "client_type": Client.CLIENT_PUBLIC if metadata.is_public else Client.CLIENT_CONFIDENTIAL,
        "scope": metadata.scope,
        "registration_metadata": metadata.as_dict(),
    }


def full_clean(client: Client) -> None:
    """The model's own checks (django-oauth-toolkit's included), reported as RFC 7591 errors."""
    try:
        client.full_clean(exclude=["client_secret"])
    except ValidationError as exc:
        raise RegistrationError("invalid_client_metadata", "; ".join(exc.messages)) from None


def client_create(
    *, metadata: ClientMetadata, policy: str, initial_access_token_id: int | None = None,
    with_registration_token: bool = False, actor: str = "", request=None, instance: Client | None = None,
    **details,
) -> RegisteredClient:
    """Create a client (filling `instance` when the admin gives one); return its secret (confidential
    clients only) and registration access token, raw, once."""
    client_secret = new_secret()
    registration_token = new_secret() if with_registration_token else ""
    fields = {
        **client_fields(metadata),
        "authorization_grant_type": Client.GRANT_AUTHORIZATION_CODE,
        # A public client still gets a random (unrevealed) secret: an empty one would hash to a
        # value that client_secret_post with an empty secret could match.
        "client_secret": client_secret,
        "hash_client_secret": True,
        "registration_source": (
            Client.RegistrationSource.DCR if with_registration_token else Client.RegistrationSource.MANUAL
        ),
        "initial_access_token_id": initial_access_token_id,
        "registration_access_token_hash": token_digest(registration_token) if registration_token else "",
    }
    client = instance if instance is not None else Client()
    for name, value in fields.items():
        setattr(client, name, value)
    full_clean(client)
    client.save()
    audit.record(Kind.CLIENT_REGISTERED, client_id=client.client_id, actor=actor, request=request, policy=policy,
                 client_name=client.name, redirect_uris=metadata.redirect_uris,
                 token_endpoint_auth_method=metadata.token_endpoint_auth_method, **details)
    return RegisteredClient(client, None if metadata.is_public else client_secret, registration_token)


def client_register(*, metadata: ClientMetadata, grant: RegistrationGrant, request=None) -> RegisteredClient:
    """RFC 7591 registration: spend the initial access token and create the client, all or nothing."""
    with transaction.atomic():
        if grant.token_id is not None:
            dcr_token_consume(grant.token_id)
        return client_create(
            metadata=metadata, policy=grant.policy, initial_access_token_id=grant.token_id,
            with_registration_token=True, actor="registration endpoint", request=request,
            initial_access_token=grant.label,
        )


def registration_refused(error: RegistrationError, request) -> None:
    audit.record(Kind.REGISTRATION_REFUSED, actor="registration endpoint", request=request,
                 error=error.error, description=error.description)


def registration_client_uri(client: Client) -> str:
    # From OAUTH_ISSUER, never from the request's Host header.
    return settings.OAUTH_ISSUER + reverse("oauth-register-management", kwargs={"client_id": client.client_id})


def registration_response(client: Client, *, registration_access_token: str, client_secret: str | None = None) -> dict:
    """RFC 7591 section 3.2.1 / RFC 7592 section 3 body."""
    data = {
        **client.registration_metadata,
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created.timestamp()),
        "registration_client_uri": registration_client_uri(client),
        "registration_access_token": registration_access_token,
    }
    if client_secret:
        data["client_secret"] = client_secret
        data["client_secret_expires_at"] = 0  # never expires
    return data


# --- Client configuration endpoint (RFC 7592) --------------------------------------------------------

def registration_authenticate(*, client_id: str, authorization: str) -> Client:
    """The client whose registration access token this is; the same 401 whatever is wrong."""
    raw = parse_bearer_token(authorization or "")
    client = Client.objects.filter(client_id=client_id).first()
    stored = client.registration_access_token_hash if client is not None else ""
    if not raw or not stored or not constant_time_compare(token_digest(raw), stored):
        raise InvalidBearerToken("the registration access token is not valid for this client")
    return client


def client_update(*, client: Client, metadata: ClientMetadata, actor: str = "", request=None, **details) -> Client:
    """Replace a client's metadata. The authentication method is fixed at creation (it decides the secret)."""
    if metadata.token_endpoint_auth_method != client.token_endpoint_auth_method:
        raise RegistrationError("invalid_client_metadata",
                                "token_endpoint_auth_method cannot change; register a new client")
    for name, value in client_fields(metadata).items():
        setattr(client, name, value)
    full_clean(client)
    client.save()
    audit.record(Kind.CLIENT_UPDATED, client_id=client.client_id, actor=actor, request=request,
                 redirect_uris=metadata.redirect_uris, client_name=client.name, **details)
    return client


def client_registration_update(*, client: Client, data, request=None) -> tuple[Client, str]:
    """RFC 7592 section 2.2: replace the metadata and rotate the registration access token."""
    metadata = client_metadata_from_dict(data)
    if data.get("client_id", client.client_id) != client.client_id:
        raise RegistrationError("invalid_client_metadata", "client_id does not match the registration URI")
    new_token = new_secret()
    client.registration_access_token_hash = token_digest(new_token)
    return client_update(client=client, metadata=metadata, actor="registration endpoint", request=request), new_token


# --- Administration (admin console, manage.py revoke_client, RFC 7592 delete) -----------------------

def client_revoke_tokens(*, client: Client, actor: str = "", request=None) -> int:
    """Delete every access token, refresh token and pending code of the client; return the tokens deleted.

    Deleting the rows (not just flagging them) is what makes /mcp refuse them at once: the
    post_delete signal drops each token's cache entry (oauth_app.signals).
    """
    with transaction.atomic():
        get_grant_model().objects.filter(application=client).delete()
        refresh_count, _ = get_refresh_token_model().objects.filter(application=client).delete()
        access_count, _ = get_access_token_model().objects.filter(application=client).delete()
    audit.record(Kind.ADMIN_ACTION, client_id=client.client_id, actor=actor, request=request,
                 action="revoke_tokens", access_tokens=access_count, refresh_tokens=refresh_count)
    return access_count


def client_set_enabled(*, client: Client, enabled: bool, actor: str = "", request=None) -> None:
    """Disable (its tokens stop working at once; post_save drops their cache entries) or enable again."""
    client.is_enabled = enabled
    client.save(update_fields=["is_enabled", "updated"])
    audit.record(Kind.CLIENT_ENABLED if enabled else Kind.CLIENT_DISABLED, client_id=client.client_id,
                 actor=actor, request=request)


def client_disable(*, client: Client, actor: str = "", request=None) -> None:
    client_set_enabled(client=client, enabled=False, actor=actor, request=request)


def client_enable(*, client: Client, actor: str = "", request=None) -> None:
    client_set_enabled(client=client, enabled=True, actor=actor, request=request)


def client_delete(*, client: Client, actor: str = "", request=None) -> None:
    client_id, name = client.client_id, client.name
    client.delete()  # cascades to tokens; post_delete drops their cache entries
    audit.record(Kind.CLIENT_DELETED, client_id=client_id, actor=actor, request=request, client_name=name)


# --- Client ID Metadata Documents ---------------------------------------------------------------------

class CimdMetadataFetcher(MetadataFetcherSeam):
    """django-oauth-toolkit's SSRF-hardened fetcher (https only, public addresses only, no redirects,
    CIMD_FETCH_TIMEOUT_SECONDS, CIMD_MAX_DOCUMENT_SIZE; results cached on the client row, failures
    backed off), plus our redirect-URI rules, which the toolkit does not apply to documents."""

    def read_document(self, response):
        metadata, max_age = super().read_document(response)
        try:
            client_metadata_from_dict({**metadata, "token_endpoint_auth_method": "none"})
        except RegistrationError as exc:
            raise CIMDError(f"{exc.error}: {exc.description}") from None
        return metadata, max_age
