"""Persistence of the authorization server: clients, initial access tokens, consents, audit events.

`Client` replaces django-oauth-toolkit's Application (OAUTH2_PROVIDER_APPLICATION_MODEL) so that
each client carries what the toolkit lacks: a disabled flag, the initial access token it was registered
with, its token endpoint authentication method and a per-client PKCE switch. Its provenance is DOT's own
`registration_source` (manual, RFC 7591, CIMD) plus that link; who registered it how (admin or command,
which token or open registration) is the client's `client_registered` audit event.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from oauth2_provider.models import AbstractApplication

from oauth_app import capabilities
from oauth_app.redirect_uris import redirect_uri_problem


class RegistrationPolicy(models.TextChoices):
    """What allowed a registration, as its audit event records it (`Client.registration_policy`)."""

    INITIAL_ACCESS_TOKEN = "initial_access_token", "Initial access token (RFC 7591)"
    OPEN = "open", "Open registration"
    CLIENT_ID_METADATA_DOCUMENT = "cimd", "Client ID Metadata Document"
    COMMAND = "command", "manage.py register_client"
    ADMIN = "admin", "Admin console"


class TokenEndpointAuthMethod(models.TextChoices):
    CLIENT_SECRET_BASIC = capabilities.CLIENT_SECRET_BASIC, "client_secret_basic"
    CLIENT_SECRET_POST = capabilities.CLIENT_SECRET_POST, "client_secret_post"
    NONE = capabilities.NONE, "none (public client)"


class InitialAccessToken(models.Model):
    """A bearer token that allows registering clients (RFC 7591 section 3); only its hash is stored."""

    name = models.CharField(max_length=200)
    token_prefix = models.CharField(max_length=12, help_text="First characters, to recognise the token.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty means unlimited.")
    uses = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_exhausted(self) -> bool:
        return self.max_uses is not None and self.uses >= self.max_uses


class Client(AbstractApplication):
    """An OAuth client (django-oauth-toolkit Application) with provenance and an on/off switch."""

    is_enabled = models.BooleanField(
        default=True, help_text="A disabled client gets no tokens and its tokens stop working at once."
    )
    require_pkce = models.BooleanField(
        default=True,
        help_text="Require PKCE (S256). Always required for public clients; switch off only for a "
        "confidential client that cannot send it.",
    )
    token_endpoint_auth_method = models.CharField(
        max_length=32, choices=TokenEndpointAuthMethod.choices, default=TokenEndpointAuthMethod.CLIENT_SECRET_BASIC
    )
    scope = models.TextField(blank=True, help_text="Space-separated scopes the client registered for.")
    initial_access_token = models.ForeignKey(
        InitialAccessToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="clients"
    )
    registration_metadata = models.JSONField(default=dict, blank=True)
    registration_access_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    last_token_issued_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = "client"

    @property
    def is_public(self) -> bool:
        return self.client_type == self.CLIENT_PUBLIC

    @property
    def registration_policy(self) -> str:
        """A RegistrationPolicy value: CIMD from `registration_source`, otherwise the policy the client's
        registration audit event recorded (the admin's queryset annotates it as `registered_policy`),
        falling back on what the fields say when that event is gone."""
        if self.registration_source == self.RegistrationSource.CIMD:
            return RegistrationPolicy.CLIENT_ID_METADATA_DOCUMENT
        if not hasattr(self, "registered_policy"):
            self.registered_policy = registration_event_policies().filter(client_id=self.client_id).first()
        if self.registered_policy:
            return self.registered_policy
        if self.initial_access_token_id is not None:
            return RegistrationPolicy.INITIAL_ACCESS_TOKEN
        return RegistrationPolicy.OPEN if self.registration_source == self.RegistrationSource.DCR \
            else RegistrationPolicy.ADMIN

    def save(self, *args, **kwargs):
        if self.registration_source == self.RegistrationSource.CIMD:
            # django-oauth-toolkit's CIMD resolver creates and refreshes these clients itself: give them
            # the `none` authentication method CIMD requires.
            self.token_endpoint_auth_method = TokenEndpointAuthMethod.NONE
        super().save(*args, **kwargs)

    def is_usable(self, request):
        return self.is_enabled and super().is_usable(request)

    def redirect_uri_allowed(self, uri: str) -> bool:
        # Registration's rule, applied again: a URI registration refuses is never a redirect target,
        # whatever is stored (clients registered before the rule, CIMD documents).
        return redirect_uri_problem(uri) is None and super().redirect_uri_allowed(uri)


class Consent(models.Model):
    """A user's remembered approval of a client for a set of scopes, sending the code to one exact
    redirect URI (a loopback port included: RFC 8252 lets a client pick any port at each request)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_consents")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    scope = models.TextField()
    redirect_uri = models.TextField(default="", help_text="The exact redirect URI the user approved.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client", "scope", "redirect_uri"], name="unique_consent_redirect")
        ]


class RedeemedCode(models.Model):
    """An authorization code that was exchanged, by digest: a replay is refused and revokes the token
    family it issued with one lookup on the unique index, however long the client's history is."""

    code_digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the code.")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="redeemed_codes")
    token_family = models.UUIDField()
    redeemed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(help_text="After this, a replay can no longer revoke anything alive.")

    def __str__(self):
        return f"{self.code_digest[:12]}… ({self.client_id})"


class AuditEvent(models.Model):
    """A security-relevant event; also written as a JSON log line. Never holds a secret."""

    class Kind(models.TextChoices):
        CLIENT_REGISTERED = "client_registered"
        CLIENT_UPDATED = "client_updated"
        CLIENT_DELETED = "client_deleted"
        CLIENT_DISABLED = "client_disabled"
        CLIENT_ENABLED = "client_enabled"
        REGISTRATION_REFUSED = "registration_refused"
        TOKEN_ISSUED = "token_issued"
        TOKEN_REFRESHED = "token_refreshed"
        TOKEN_REVOKED = "token_revoked"
        TOKEN_REPLAY_DETECTED = "token_replay_detected"
        CLIENT_AUTH_FAILED = "client_auth_failed"
        CONSENT_GIVEN = "consent_given"
        CONSENT_DENIED = "consent_denied"
        DCR_TOKEN_ISSUED = "dcr_token_issued"
        DCR_TOKEN_REVOKED = "dcr_token_revoked"
        ADMIN_ACTION = "admin_action"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=40, choices=Kind.choices, db_index=True)
    client_id = models.CharField(max_length=255, blank=True, db_index=True)
    actor = models.CharField(max_length=150, blank=True, help_text="User name, admin or command.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.client_id}"


def registration_event_policies():
    """The `policy` of `client_registered` audit events, oldest first, as a values list (filter by client_id)."""
    return (
        AuditEvent.objects.filter(kind=AuditEvent.Kind.CLIENT_REGISTERED).order_by("created_at")
        .values_list(KeyTextTransform("policy", "details"), flat=True)
    )


class IdpIdentity(models.Model):
    """The link between a Django user and a person at the upstream OpenID Connect provider (oauth_app.sso).

    (issuer, subject) is what identifies the person again: the username may change at the IdP.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idp_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    sid = models.CharField(max_length=255, blank=True, help_text="The IdP session of the last sign-in.")
    last_sign_in_at = models.DateTimeField(null=True, blank=True)
    signed_out_at = models.DateTimeField(
        null=True, blank=True, help_text="Last back-channel logout from the IdP (tokens revoked then)."
    )
    synced_groups = models.JSONField(
        default=list, blank=True, help_text="Django groups granted from the IdP at the last sign-in."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "IdP identity"
        verbose_name_plural = "IdP identity"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="unique_idp_subject")]
        indexes = [models.Index(fields=["issuer", "sid"], name="idp_identity_sid")]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"

    def sign_in_is_current(self, max_age_seconds: int) -> bool:
        """Signed in at the IdP within max_age_seconds, and not signed out there since."""
        if self.last_sign_in_at is None:
            return False
        if self.signed_out_at is not None and self.signed_out_at >= self.last_sign_in_at:
            return False
        return self.last_sign_in_at + timedelta(seconds=max_age_seconds) > timezone.now()
