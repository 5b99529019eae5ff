"""notes.Note takes over the table mcp_app 0001 created (`mcp_app_note`): the model enters this app's
state only, after mcp_app 0002 removed it from that app's state. Its content type follows it, so the
admin permissions granted on notes are kept."""

from django.db import migrations, models


def move_content_type(apps, schema_editor, old="mcp_app", new="notes"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new, model="note").exists():
        ContentType.objects.using(db).filter(app_label=old, model="note").update(app_label=new)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, old="notes", new="mcp_app")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('mcp_app', '0002_note_moved_to_notes'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Note',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name='ID')),
                        ('title', models.CharField(max_length=200)),
                        ('body', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                    ],
                    options={
                        'db_table': 'mcp_app_note',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
