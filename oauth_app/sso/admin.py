"""The user admin, extended: the person's IdP identity and last IdP sign-in, and an action that revokes all
of a user's tokens. Also the admin sign-in form, which with OIDC_ONLY accepts superusers only."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError

from oauth_app import audit
from oauth_app.models import AuditEvent, IdpIdentity
from oauth_app.accounts import revoke_user_tokens

User = get_user_model()


class IdpIdentityInline(admin.StackedInline):
    """Adding one by hand links an existing local account to its IdP person (a first IdP sign-in with a
    username already taken is refused until then)."""

    model = IdpIdentity
    can_delete = True
    extra = 0
    max_num = 1
    fields = ("issuer", "subject", "last_sign_in_at", "sid", "signed_out_at", "synced_groups")
    readonly_fields = ("last_sign_in_at", "sid", "signed_out_at", "synced_groups")


class IdpUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, IdpIdentityInline]
    list_display = [*UserAdmin.list_display, "last_idp_sign_in"]
    list_select_related = ["idp_identity"]
    actions = ["revoke_tokens"]

    @admin.display(description="last IdP sign-in", ordering="idp_identity__last_sign_in_at")
    def last_idp_sign_in(self, user):
        identity = getattr(user, "idp_identity", None)
        return identity.last_sign_in_at if identity else None

    @admin.action(description="Revoke all tokens of the selected users (their MCP clients must sign in again)")
    def revoke_tokens(self, request, queryset):
        count = 0
        for user in queryset:
            count += revoke_user_tokens(user=user)
            audit.record(AuditEvent.Kind.ADMIN_ACTION, actor=f"admin:{request.user.get_username()}", request=request,
                         action="revoke_user_tokens", user=user.get_username())
        self.message_user(request, f"Revoked {count} access token(s) of {len(queryset)} user(s).", messages.SUCCESS)


class AdminLoginForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if settings.OIDC_ONLY and settings.OIDC_ISSUER and not user.is_superuser:
            raise ValidationError("Sign in through your organisation's identity provider.", code="oidc_only")


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, IdpUserAdmin)
admin.site.login_form = AdminLoginForm
