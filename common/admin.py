"""Admin pieces both apps use."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the code writes and nobody edits (audit trails, signing keys): listed and shown, never added,
    changed or deleted from the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
