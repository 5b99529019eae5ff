"""Admin console: clients (provenance, tokens, revoke/disable/enable/delete), initial access tokens, audit log.

Every change goes through the services of oauth_app.registration, which write the audit events. No
secret is ever shown after creation: client secrets and tokens are stored hashed, and the one-time
display after adding a client is a page rendered in the response, not a message stored in a cookie.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce, Now
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from oauth2_provider.admin import AccessTokenAdmin, RefreshTokenAdmin
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from common.admin import ReadOnlyAdmin
from oauth_app import audit, registration
from oauth_app.capabilities import CLIENT_CREDENTIALS
from oauth_app.models import (
    AuditEvent, Client, InitialAccessToken, RegistrationPolicy, SigningKey, registration_event_policies,
)
from oauth_app.policies import RegistrationError, client_metadata_from_dict

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

# django-oauth-toolkit registers its own Application admin for our swapped model; ours replaces it.
if admin.site.is_registered(Client):
    admin.site.unregister(Client)


def actor(request) -> str:
    return f"admin:{request.user.get_username()}"


class ClientForm(forms.ModelForm):
    """Validates redirect URIs and scope with the same rules as dynamic registration."""

    redirect_uris = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), required=False,
                                    help_text="One per line: https, loopback http, or an allowed private-use scheme.")
    machine = forms.BooleanField(required=False, label="Machine client",
                                 help_text="client_credentials: acts for itself, no user and no redirect URIs.")

    class Meta:
        model = Client
        fields = ["name", "redirect_uris", "token_endpoint_auth_method", "scope", "require_pkce", "is_enabled",
                  "skip_authorization"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["redirect_uris"] = "\n".join(self.instance.redirect_uris.split())

    def clean(self):
        cleaned = super().clean()
        auth_method = cleaned.get("token_endpoint_auth_method") or self.instance.token_endpoint_auth_method
        try:
            self.metadata = client_metadata_from_dict({
                **(self.instance.registration_metadata or {}),
                "client_name": cleaned.get("name", ""),
                "redirect_uris": (cleaned.get("redirect_uris") or "").split(),
                "token_endpoint_auth_method": auth_method,
                "scope": cleaned.get("scope", ""),
                **({"grant_types": [CLIENT_CREDENTIALS]} if cleaned.get("machine") else {}),
            })
        except RegistrationError as exc:
            field = "redirect_uris" if exc.error == "invalid_redirect_uri" else None
            raise forms.ValidationError({field: exc.description} if field else exc.description) from None
        return cleaned


class MachineClientFilter(admin.SimpleListFilter):
    """Machine clients (client_credentials: no user behind their tokens) apart from the clients people use."""

    title, parameter_name = "kind", "kind"

    def lookups(self, request, model_admin):
        return (("machine", "Machine (client_credentials)"), ("people", "For people (authorization code)"))

    def queryset(self, request, queryset):
        machine = {"authorization_grant_type": Client.GRANT_CLIENT_CREDENTIALS}
        if self.value() == "machine":
            return queryset.filter(**machine)
        return queryset.exclude(**machine) if self.value() == "people" else queryset


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientForm
    list_display = ("__str__", "client_id", "kind", "provenance", "token_endpoint_auth_method", "is_enabled",
                    "require_pkce", "active_tokens", "last_token_issued", "created")
    list_filter = (MachineClientFilter, "is_enabled", "registration_source", "initial_access_token",
                   "token_endpoint_auth_method", "require_pkce")
    search_fields = ("name", "client_id", "redirect_uris")
    actions = ("revoke_all_tokens", "disable_clients", "enable_clients")
    provenance_fields = ("client_id", "client_type", "provenance", "initial_access_token_used", "created",
                         "updated", "active_tokens", "last_token_issued", "registered_metadata")

    def get_queryset(self, request):
        tokens = AccessToken.objects.filter(application=OuterRef("pk"))
        active = (tokens.filter(expires__gt=Now()).order_by().values("application")
                  .annotate(n=Count("pk")).values("n"))
        latest = tokens.order_by("-created").values("created")[:1]
        return super().get_queryset(request).select_related("initial_access_token").annotate(
            active_token_count=Coalesce(Subquery(active, output_field=IntegerField()), 0),
            latest_token_created=Subquery(latest),
            registered_policy=Subquery(registration_event_policies().filter(client_id=OuterRef("client_id"))[:1]),
        )

    def get_fields(self, request, obj=None):
        fields = list(ClientForm.Meta.fields)
        if obj is None:
            return [*fields, "machine"]
        fields.remove("token_endpoint_auth_method")  # fixed at creation: it decides whether there is a secret
        return fields + list(self.provenance_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.provenance_fields if obj is not None else ()

    # --- columns ---
    @admin.display(description="kind", ordering="authorization_grant_type")
    def kind(self, obj):
        return "machine" if obj.authorization_grant_type == Client.GRANT_CLIENT_CREDENTIALS else "people"

    @admin.display(description="provenance")
    def provenance(self, obj):
        return RegistrationPolicy(obj.registration_policy).label

    @admin.display(description="initial access token used")
    def initial_access_token_used(self, obj):
        if obj.initial_access_token is not None:
            return str(obj.initial_access_token)
        if obj.registration_policy == RegistrationPolicy.INITIAL_ACCESS_TOKEN:
            return registration.SETTINGS_TOKEN_LABEL
        return "-"

    @admin.display(description="active tokens", ordering="active_token_count")
    def active_tokens(self, obj):
        return getattr(obj, "active_token_count", 0)

    @admin.display(description="last token issued", ordering="latest_token_created")
    def last_token_issued(self, obj):
        return obj.last_token_issued_at or getattr(obj, "latest_token_created", None) or "-"

    @admin.display(description="registered metadata")
    def registered_metadata(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.registration_metadata, indent=2, sort_keys=True))

    # --- saving: through the services, which audit ---
    def save_model(self, request, obj, form, change):
        if change:
            registration.client_update(client=obj, metadata=form.metadata, actor=actor(request), request=request,
                                       changed=form.changed_data)
        else:
            request.created_client = registration.client_create(metadata=form.metadata, policy=RegistrationPolicy.ADMIN,
                                                      actor=actor(request), request=request, instance=obj)

    def response_add(self, request, obj, post_url_continue=None):
        # The secret exists in clear only now: show it on this page, once, never in a stored message.
        context = {**self.admin_site.each_context(request), "title": "Client created", "client": obj,
                   "client_secret": request.created_client.client_secret, "opts": self.model._meta,
                   "change_url": f"../{obj.pk}/change/"}
        response = TemplateResponse(request, "admin/oauth_app/client/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def get_deleted_objects(self, objs, request):
        # A client's tokens, codes and consents go with it, although their own admins forbid deleting them
        # one by one (django-oauth-toolkit wants those revoked instead).
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj):
        registration.client_delete(client=obj, actor=actor(request), request=request)

    def delete_queryset(self, request, queryset):
        for client in queryset:
            registration.client_delete(client=client, actor=actor(request), request=request)

    # --- actions ---
    @admin.action(description="Revoke all tokens of the selected clients")
    def revoke_all_tokens(self, request, queryset):
        count = sum(registration.client_revoke_tokens(client=client, actor=actor(request), request=request)
                    for client in queryset)
        self.message_user(request, f"Revoked {count} access token(s) of {len(queryset)} client(s).", messages.SUCCESS)

    @admin.action(description="Disable the selected clients (their tokens stop working at once)")
    def disable_clients(self, request, queryset):
        for client in queryset:
            registration.client_disable(client=client, actor=actor(request), request=request)
        self.message_user(request, f"Disabled {len(queryset)} client(s).", messages.SUCCESS)

    @admin.action(description="Enable the selected clients")
    def enable_clients(self, request, queryset):
        for client in queryset:
            registration.client_enable(client=client, actor=actor(request), request=request)
        self.message_user(request, f"Enabled {len(queryset)} client(s).", messages.SUCCESS)


@admin.register(InitialAccessToken)
class InitialAccessTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by `manage.py issue_dcr_token` (the raw value is printed there, once)."""

    list_display = ("name", "token_prefix", "status", "uses_display", "expires_at", "last_used_at", "created_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "token_prefix")
    actions = ("revoke_tokens",)
    fields = ("name", "token_prefix", "status", "uses_display", "created_at", "expires_at", "last_used_at",
              "revoked_at", "registered_clients")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: clients keep pointing at the token that registered them

    @admin.display(description="status")
    def status(self, obj):
        for flag, label in ((obj.is_revoked, "revoked"), (obj.is_expired, "expired"), (obj.is_exhausted, "used up")):
            if flag:
                return label
        return "active"

    @admin.display(description="uses")
    def uses_display(self, obj):
        return f"{obj.uses} / {obj.max_uses if obj.max_uses is not None else 'unlimited'}"

    @admin.display(description="clients registered with it")
    def registered_clients(self, obj):
        return format_html_join(", ", "{} ({})", ((c.name or "-", c.client_id) for c in obj.clients.all())) or "-"

    @admin.action(description="Revoke the selected initial access tokens")
    def revoke_tokens(self, request, queryset):
        count = sum(registration.dcr_token_revoke(token=token, actor=actor(request), request=request)
                    for token in queryset)
        self.message_user(request, f"Revoked {count} initial access token(s).", messages.SUCCESS)


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    """Read-only: keys are created and retired with manage.py rotate_signing_key / retire_signing_key
    (docs/keys.md); the private key is never shown."""

    list_display = ("kid", "algorithm", "active", "created_at", "rotated_at", "retired_at")
    fields = ("kid", "algorithm", "active", "public_jwk", "created_at", "rotated_at", "retired_at")
    readonly_fields = fields


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit log is written by the code, never edited."""

    list_display = ("created_at", "kind", "client_id", "actor", "remote_addr", "request_id")
    list_filter = ("kind",)
    search_fields = ("client_id", "actor", "request_id")
    date_hierarchy = "created_at"
    fields = ("created_at", "kind", "client_id", "actor", "remote_addr", "request_id", "details_display")
    readonly_fields = fields

    @admin.display(description="details")
    def details_display(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, sort_keys=True))


class AuditedRevokeMixin:
    """django-oauth-toolkit's token admins (masked values, revoke instead of delete), with the revoke action
    recorded in the audit log."""

    @admin.action(description="Revoke the selected tokens")
    def revoke_tokens(self, request, queryset):
        tokens = list(queryset.select_related("application"))
        super().revoke_tokens(request, queryset)
        for token in tokens:
            client_id = token.application.client_id if token.application else ""
            audit.record(AuditEvent.Kind.ADMIN_ACTION, client_id=client_id, actor=actor(request), request=request,
                         action=f"revoke_{self.model._meta.model_name}", token_id=token.pk)


for model, base in ((AccessToken, AccessTokenAdmin), (RefreshToken, RefreshTokenAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, type(base.__name__, (AuditedRevokeMixin, base), {}))

from oauth_app.sso import admin as sso_admin  # noqa: E402, F401  (the user admin and the admin sign-in form)
