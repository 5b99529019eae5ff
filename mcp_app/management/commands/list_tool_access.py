"""Who may use each tool, prompt and resource, and where that comes from (grants, code, the default)."""

from django.core.management.base import BaseCommand

from mcp_app.grants import access_table


class Command(BaseCommand):
    help = "List every tool, prompt and resource with who may use it."

    def handle(self, *args, **options):
        for row in access_table():
            self.stdout.write(f"{row.kind:<8} {row.name:<40} [{row.source}] {', '.join(row.grantees)}")
