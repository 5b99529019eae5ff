from django.apps import AppConfig


class McpsiteConfig(AppConfig):
    name = "mcpsite"
    verbose_name = "MCP site"

    def ready(self):
        from . import checks  # noqa: F401  registers the configuration checks
