"""The demo Note model moved to the `notes` app. Only the migration state changes: the table
`mcp_app_note` stays (notes.Note uses it), so existing notes are kept; with the demo app left out
(MCP_DEMO_CONTENT=false) the table is simply unused."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('mcp_app', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='Note')],
            database_operations=[],
        ),
    ]
