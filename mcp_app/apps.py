import importlib

from django.apps import AppConfig
from django.conf import settings


class McpAppConfig(AppConfig):
    name = "mcp_app"
    verbose_name = "MCP endpoint"

    def ready(self):
        from common.errors import register_retry_format
        from mcp_app.throttling import MCP_PATH, retry_later

        register_retry_format(MCP_PATH, retry_later)  # 429 and 503 on /mcp as JSON-RPC errors
        # Tool modules register their @tool/@resource/@prompt functions when imported.
        modules = list(settings.MCP_TOOL_MODULES)
        if settings.MCP_CONFORMANCE_FIXTURES:
            modules += ["mcp_app.conformance", "mcp_app.conformance_modern"]
        for module in modules:
            importlib.import_module(module)
        from mcp_app import policy_signals  # noqa: F401  (connects the receivers)
