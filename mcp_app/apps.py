import importlib

from django.apps import AppConfig
from django.conf import settings


class McpAppConfig(AppConfig):
    name = "mcp_app"
    verbose_name = "MCP endpoint"

    def ready(self):
        # Tool modules register their @tool/@resource/@prompt functions when imported.
        modules = list(settings.MCP_TOOL_MODULES)
        if settings.MCP_CONFORMANCE_FIXTURES:
            modules.append("mcp_app.conformance")
        for module in modules:
            importlib.import_module(module)
        from mcp_app import policy_signals  # noqa: F401  (connects the receivers)
