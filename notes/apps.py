import importlib

from django.apps import AppConfig


class NotesConfig(AppConfig):
    """Demo content: short notes with a search tool, a `notes://{id}` resource template and a prompt.
    MCP_DEMO_CONTENT=false leaves the app out of INSTALLED_APPS, so none of it is served."""

    name = "notes"
    verbose_name = "Notes (demo content)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The app brings its own tools: registered when the app is installed, whatever MCP_TOOL_MODULES says.
        importlib.import_module("notes.tools")
