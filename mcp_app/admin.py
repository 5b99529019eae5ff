"""Admin: grants of tools, prompts and resources (changes take effect on the next request, through the
model signals of mcp_app.policy_signals) and the read-only audit trail of calls, linked from the client
and user pages."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from common.admin import ReadOnlyAdmin
from mcp_app.grants import registered_item
from mcp_app.models import AccessGrant, AuditRecord
from oauth_app.models import Client


class AccessGrantForm(forms.ModelForm):
    class Meta:
        model = AccessGrant
        fields = ("kind", "name", "group", "user", "client")

    def clean(self):
        data = super().clean()
        if data.get("kind") and data.get("name") and registered_item(data["kind"], data["name"]) is None:
            self.add_error("name", f"No {data['kind']} with this name (or URI) is registered.")
        if sum(data.get(field) is not None for field in ("group", "user", "client")) != 1:
            raise forms.ValidationError("Choose exactly one of a group, a user or a client.")
        return data


@admin.register(AccessGrant)
class AccessGrantAdmin(admin.ModelAdmin):
    form = AccessGrantForm
    list_display = ("kind", "name", "grantee", "created_at")
    list_filter = ("kind", "name", "group")
    search_fields = ("name", "group__name", "user__username", "client__client_id", "client__name")
    autocomplete_fields = ("user",)
    raw_id_fields = ("client",)


class TextFilter(admin.SimpleListFilter):
    """A text box for an exact value (usernames and client ids are too many for a list of links)."""

    template = "admin/mcp_app/text_filter.html"

    def lookups(self, request, model_admin):
        return (("", ""),)  # the filter needs one choice to be shown

    def choices(self, changelist):
        hidden = [(name, value) for name, value in changelist.get_filters_params().items()
                  if name != self.parameter_name]
        yield {"parameter_name": self.parameter_name, "value": self.value(), "hidden": hidden}

    def queryset(self, request, queryset):
        return queryset.filter(**{self.parameter_name: self.value()}) if self.value() else queryset


class UserFilter(TextFilter):
    title, parameter_name = "user", "username"


class ClientFilter(TextFilter):
    title, parameter_name = "client", "client_id"


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "client_id", "method", "name", "outcome", "duration_ms", "request_id")
    list_filter = (UserFilter, ClientFilter, "name", "outcome", "method", ("at", admin.DateFieldListFilter))
    search_fields = ("name", "username", "client_id", "request_id", "jti")
    date_hierarchy = "at"
    show_full_result_count = False  # counting millions of rows on every page is slow
    # Read-only: deleting is manage.py prune's, which applies AUDIT_RETENTION_DAYS.


def audit_link(**filters) -> str:
    url = reverse("admin:mcp_app_auditrecord_changelist") + "?" + urlencode(filters)
    return format_html('<a href="{}">Calls in the audit trail</a>', url)


def with_audit_link(model, field: str, lookup: str, add_to_fieldsets: bool) -> None:
    """Replace the model's registered admin by a subclass that shows a link to its calls."""
    base = type(admin.site.get_model_admin(model))

    @admin.display(description="audit trail")
    def audit_trail(self, obj):
        return audit_link(**{lookup: getattr(obj, field)}) if obj and obj.pk else "-"

    attributes = {"audit_trail": audit_trail}
    if add_to_fieldsets:
        attributes["fieldsets"] = (*base.fieldsets, ("MCP", {"fields": ("audit_trail",)}))
        attributes["readonly_fields"] = (*base.readonly_fields, "audit_trail")
    else:  # the client admin decides its fields per page (provenance fields on the change page)
        attributes["provenance_fields"] = (*base.provenance_fields, "audit_trail")
    admin.site.unregister(model)
    admin.site.register(model, type(base.__name__, (base,), attributes))


with_audit_link(Client, "client_id", "client_id", add_to_fieldsets=False)
with_audit_link(get_user_model(), "username", "username", add_to_fieldsets=True)
