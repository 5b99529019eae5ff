from django.apps import AppConfig


class McpsiteConfig(AppConfig):
    name = "mcpsite"
    verbose_name = "MCP site"

    def ready(self):
        from django.conf import settings

        from . import checks  # noqa: F401  registers the configuration checks

        if settings.OTEL_ENABLED:  # off: opentelemetry is never imported
            from common.tracing import configure
            from mcp_app.tracing import enable

            configure()
            enable()
