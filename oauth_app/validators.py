"""Protocol rules of the authorization server: django-oauth-toolkit's validator, tightened.

What this adds to OAuth2Validator (DOT 3.4.1), each tested in tests/oauth:
- client authentication uses exactly the method the client registered (`token_endpoint_auth_method`):
  RFC 7591 section 2 registers *the* method; accepting another would let a leaked secret be replayed
  through a channel the client never uses. Failures are audited.
- PKCE: S256 required for public clients and, unless `Client.require_pkce` is off, for confidential
  ones; `plain` (or a challenge without a method, which means plain) is refused before consent.
- RFC 8707: the only resource is settings.MCP_RESOURCE (a trailing slash tolerated); it is the default
  and is stored on grants and tokens, so DOT's records carry the audience the JWT `aud` names.
- Authorization codes are stored as SHA-256 digests (DOT stores them in clear), consumed atomically
  with the issuance of the tokens, and a replayed code revokes the token family it produced.
- Refresh rotation in a fixed, small number of queries: the old refresh token is claimed with one
  conditional UPDATE (a concurrent second use gets invalid_grant), its access token expired. A retry
  within REFRESH_TOKEN_REUSE_GRACE_SECONDS after a lost response gets a fresh pair, not a revocation.
- People who sign in through the organisation's IdP (oauth_app.sso) refresh only while their last IdP
  sign-in is younger than OIDC_SESSION_MAX_AGE and not followed by a back-channel logout.
- The Redis allow-list learns new access tokens at issuance and forgets superseded ones at once.
"""

import hashlib
import logging
import re
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from oauth_app import audit, tokens
from oauth_app.capabilities import GRANT_TYPES, S256
from oauth_app.dot_seam import ValidatorSeam, refresh_token_expire_timedelta
from oauth_app.models import AuditEvent, Client, RedeemedCode, TokenEndpointAuthMethod

logger = logging.getLogger(__name__)

AccessToken = get_access_token_model()
Grant = get_grant_model()
RefreshToken = get_refresh_token_model()

PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 section 4.2; stored in a varchar(128)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def canonical_resource(value) -> str | None:
    """settings.MCP_RESOURCE when `value` names it (a trailing slash tolerated), else None."""
    if isinstance(value, str) and value.rstrip("/") == settings.MCP_RESOURCE.rstrip("/"):
        return settings.MCP_RESOURCE
    return None


def invalid_target(value, request=None, state=None) -> errors.CustomOAuth2Error:
    return errors.CustomOAuth2Error(
        error="invalid_target",
        description=f"The only resource this server issues tokens for is {settings.MCP_RESOURCE} (got {value!r}).",
        request=request,
        state=state,
    )


def requested_resources(request) -> list:
    """Every `resource` value of an oauthlib request (RFC 8707 allows repeating the parameter)."""
    resource = getattr(request, "resource", None)
    if isinstance(resource, list):
        return resource
    repeated = [value for key, value in (getattr(request, "decoded_body", None) or []) if key == "resource"]
    if len(repeated) > 1:
        return repeated
    return [resource] if resource else []


def audit_request(request):
    """What oauth_app.audit needs from an oauthlib request (DOT copies Django's META into its headers)."""
    return SimpleNamespace(META=request.headers)


class Validator(ValidatorSeam):
    # --- Client authentication -----------------------------------------------------------------
    def authenticate_client(self, request, *args, **kwargs):
        """One method per request (RFC 6749 section 2.3), and the one the client registered."""
        used_basic = bool(self.basic_auth_credentials(request))
        used_post = getattr(request, "client_secret", None) is not None
        if used_basic and used_post:
            return self._client_auth_failed(request, "more than one authentication method")
        if used_basic:
            method, authenticated = TokenEndpointAuthMethod.CLIENT_SECRET_BASIC, self.authenticate_with_basic(request)
        else:
            method, authenticated = TokenEndpointAuthMethod.CLIENT_SECRET_POST, self.authenticate_with_body(request)
        if not authenticated:
            return self._client_auth_failed(request, "unknown client, disabled client or wrong secret")
        if request.client.token_endpoint_auth_method != method:
            return self._client_auth_failed(
                request, f"client registered {request.client.token_endpoint_auth_method}, used {method}"
            )
        return True

    def _client_auth_failed(self, request, reason: str) -> bool:
        client_id = request.client.client_id if request.client else (request.client_id or "")
        audit.record(
            AuditEvent.Kind.CLIENT_AUTH_FAILED, client_id=str(client_id)[:255], request=audit_request(request),
            endpoint=request.uri.split("?")[0].rsplit("/", 1)[-1], reason=reason,
        )
        return False

    # --- Authorization request -----------------------------------------------------------------
    def is_pkce_required(self, client_id, request):
        """S256 only (RFC 9700 section 2.1.1); required unless a confidential client opted out."""
        if request.code_challenge is not None and request.code_challenge_method != S256:
            raise errors.InvalidRequestError(
                description="code_challenge_method must be S256 (plain is not accepted).", request=request
            )
        if request.code_challenge is not None and not PKCE_CHALLENGE.fullmatch(request.code_challenge):
            raise errors.InvalidRequestError(
                description="code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~", request=request
            )
        client = request.client or self.load_client(client_id, request)
        if client is None:
            return True
        return client.is_public or client.require_pkce

    def store_authorization_code(self, request, code, expires=None):
        for value in requested_resources(request):  # checked before consent too; this covers the form's POST
            if canonical_resource(value) is None:
                raise invalid_target(value, request)
        request.resource = [settings.MCP_RESOURCE]
        # Only the digest is stored: a database dump yields no usable code.
        return super().store_authorization_code(request, {"code": digest(code["code"])}, expires)

    # --- Authorization code exchange -----------------------------------------------------------
    def _load_grant(self, code, request):
        """The grant for this code and client, read once per request (several hooks ask for it)."""
        cached = getattr(request, "_grant", None)
        if cached is None or cached.code != digest(code):
            cached = Grant.objects.select_related("user").filter(code=digest(code), application=request.client).first()
            request._grant = cached
        return cached

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        grant = self._load_grant(code, request)
        if grant is None:
            self._revoke_tokens_of_replayed_code(code, request)
            return False
        if grant.is_expired() or not grant.user.is_active:  # an account deactivated by a bulk update too
            return False
        if grant.code_challenge and grant.code_challenge_method != S256:
            return False  # a plain challenge stored by an older version or by hand proves nothing
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        return True

    def _revoke_tokens_of_replayed_code(self, code, request):
        """RFC 6749 section 4.1.2: a code used twice revokes what it issued (one unique-index lookup)."""
        redeemed = RedeemedCode.objects.filter(code_digest=digest(code), client=request.client).first()
        if redeemed is None:
            return
        RefreshToken.revoke_family(redeemed.token_family)
        audit.record(
            AuditEvent.Kind.TOKEN_REPLAY_DETECTED, client_id=request.client.client_id, request=audit_request(request),
            grant_type="authorization_code", token_family=str(redeemed.token_family),
        )

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        grant = self._load_grant(code, kwargs.get("request") or args[0])
        return grant is not None and grant.redirect_uri_allowed(redirect_uri)

    def get_code_challenge(self, code, request):
        grant = self._load_grant(code, request)
        return (grant.code_challenge or None) if grant else None

    def get_code_challenge_method(self, code, request):
        grant = self._load_grant(code, request)
        return (grant.code_challenge_method or None) if grant else None

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        grant = self._load_grant(code, request)
        return grant.scope.split() if grant else []

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        """Already done: store_tokens consumes the grant in the transaction that issues tokens."""

    # --- Refresh tokens ------------------------------------------------------------------------
    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        """DOT's rules in two queries (DOT's own version loads the user and the client lazily):
        a revoked or already rotated token is a replay and revokes its whole family (RFC 9700
        section 4.14.2), unless it is a retry after a lost response (`_retried_rotation`); a live
        one needs its access token and must not be older than REFRESH_TOKEN_LIFETIME past that token."""
        rt = (
            RefreshToken.objects.select_related("access_token", "user", "user__idp_identity")
            .filter(token_checksum=digest(refresh_token))
            .order_by(F("revoked").desc(nulls_first=True))
            .first()
        )
        if rt is None or not rt.user.is_active:  # an account deactivated by a bulk update too
            return False
        if rt.revoked is not None:
            successor = self._retried_rotation(rt, client)
            if successor is None:
                self._replayed(rt, client, request)
                return False
            rt = successor  # the retry rotates the pair the lost response carried
        lifetime = refresh_token_expire_timedelta()
        if rt.access_token is None or (lifetime and rt.access_token.expires + lifetime <= timezone.now()):
            return False
        identity = getattr(rt.user, "idp_identity", None)
        if identity is not None and not identity.sign_in_is_current(settings.OIDC_SESSION_MAX_AGE):
            return False  # OIDC_SESSION_MAX_AGE since the IdP last signed them in, or signed out there
        request.user = rt.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = rt
        return rt.application_id == client.pk

    def _retried_rotation(self, rt, client):
        """The pair issued from `rt` when `rt` is presented again by its own client within
        REFRESH_TOKEN_REUSE_GRACE_SECONDS of its rotation and that pair was never refreshed: a client
        whose response was lost. DOT's REFRESH_TOKEN_GRACE_PERIOD_SECONDS would answer with the stored
        plaintext tokens, which hashed storage does not keep, so the retry gets a fresh pair instead and
        the unseen one is retired. A revocation (RFC 7009, the admin, a family revocation) revokes the
        successor too, so it is never mistaken for a rotation."""
        grace = settings.REFRESH_TOKEN_REUSE_GRACE_SECONDS
        if not grace or rt.application_id != client.pk or rt.revoked <= timezone.now() - timedelta(seconds=grace):
            return None
        return (
            RefreshToken.objects.select_related("access_token", "user")
            .filter(access_token__source_refresh_token=rt, revoked__isnull=True).first()
        )

    def _replayed(self, rt, client, request):
        if rt.token_family:
            RefreshToken.revoke_family(rt.token_family)
        audit.record(
            AuditEvent.Kind.TOKEN_REPLAY_DETECTED, client_id=client.client_id, request=audit_request(request),
            grant_type="refresh_token", token_family=str(rt.token_family or ""),
        )

    # --- Issuance ------------------------------------------------------------------------------
    def bind_resource(self, request):
        """RFC 8707 at the token endpoint: a resource, if given, must be ours; the token is bound to it."""
        for value in requested_resources(request):
            if canonical_resource(value) is None:
                raise invalid_target(value, request)
        if request.grant_type == "authorization_code":
            granted = request._grant.resource
        else:
            granted = request.refresh_token_instance.resource
        for value in granted or []:
            if canonical_resource(value) is None:  # bound to a resource this server no longer serves
                raise invalid_target(value, request)
        request.resource = [settings.MCP_RESOURCE]

    def store_tokens(self, token, request):
        """Runs inside DOT's transaction: consume the code or the old refresh token, then mint a pair."""
        if request.grant_type not in GRANT_TYPES:
            raise errors.UnsupportedGrantTypeError(request=request)
        self.bind_resource(request)
        previous = None
        if request.grant_type == "authorization_code":
            # Deleting the row is the single-use check: of two concurrent exchanges, one deletes nothing.
            deleted, _ = Grant.objects.filter(pk=request._grant.pk).delete()
            if not deleted:
                raise errors.InvalidGrantError(request=request)
        else:
            previous = request.refresh_token_instance
            self._retire(previous, request)

        expires = timezone.now() + timedelta(seconds=token.get("expires_in", settings.ACCESS_TOKEN_LIFETIME))
        access_token = self.new_access_token(expires, request, token, source_refresh_token=previous)
        refresh_token = self.new_refresh_token(request, token["refresh_token"], access_token, previous)
        Client.objects.filter(pk=request.client.pk).update(last_token_issued_at=timezone.now())
        tokens.remember_active(access_token.token_checksum, int(expires.timestamp()))

        if previous is None:  # links the code to what it issued, for replay detection
            RedeemedCode.objects.create(
                code_digest=request._grant.code, client=request.client, token_family=refresh_token.token_family,
                expires_at=expires + (refresh_token_expire_timedelta() or timedelta(0)),
            )
        audit.record(
            AuditEvent.Kind.TOKEN_ISSUED if previous is None else AuditEvent.Kind.TOKEN_REFRESHED,
            client_id=request.client.client_id, actor=request.user.get_username() if request.user else "",
            request=audit_request(request), token_family=str(refresh_token.token_family), scope=token["scope"],
        )

    def _retire(self, refresh_token, request):
        """Rotation: claim the old refresh token (one conditional UPDATE) and end its access token."""
        now = timezone.now()
        claimed = RefreshToken.objects.filter(pk=refresh_token.pk, revoked__isnull=True).update(
            revoked=now, updated=now
        )
        if not claimed:  # a concurrent request rotated it first
            raise errors.InvalidGrantError(request=request)
        old_access = refresh_token.access_token
        if old_access is not None:
            AccessToken.objects.filter(pk=old_access.pk).update(expires=now, updated=now)
            tokens.forget_active([old_access.token_checksum])

    # --- Revocation (RFC 7009) -----------------------------------------------------------------
    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        """Only the calling client's tokens. An access token takes its refresh token with it; a refresh
        token takes its whole family (RFC 7009 section 2.1: tokens of the same grant)."""
        checksum = digest(token)
        client = request.client
        access = AccessToken.objects.filter(token_checksum=checksum, application=client).first()
        refresh = None
        if access is None:
            refresh = RefreshToken.objects.filter(token_checksum=checksum, application=client).first()
        if access is None and refresh is None:
            return
        if access is not None:
            family = RefreshToken.objects.filter(access_token=access).values_list("token_family", flat=True).first()
            if family:
                RefreshToken.revoke_family(family)
            else:
                access.revoke()
        elif refresh.token_family:
            RefreshToken.revoke_family(refresh.token_family)
        else:
            refresh.revoke()
        audit.record(
            AuditEvent.Kind.TOKEN_REVOKED, client_id=client.client_id, request=audit_request(request),
            token_type="access_token" if access is not None else "refresh_token",
        )
