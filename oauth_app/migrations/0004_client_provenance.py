"""One provenance field: django-oauth-toolkit's `registration_source` (with the initial access token link)
replaces our `registration_policy`. Who registered a client how stays in its `client_registered` audit event."""

from django.db import migrations, models

# registration_policy -> registration_source
SOURCES = {"initial_access_token": "dcr", "open": "dcr", "cimd": "cimd", "command": "manual", "admin": "manual"}


def policy_to_source(apps, schema_editor):
    Client = apps.get_model("oauth_app", "Client")
    for policy, source in SOURCES.items():
        Client.objects.filter(registration_policy=policy).exclude(registration_source=source).update(
            registration_source=source
        )


def source_to_policy(apps, schema_editor):
    Client = apps.get_model("oauth_app", "Client")
    Client.objects.filter(registration_source="cimd").update(registration_policy="cimd")
    Client.objects.filter(registration_source="dcr", initial_access_token__isnull=True).update(registration_policy="open")
    Client.objects.filter(registration_source="dcr", initial_access_token__isnull=False).update(
        registration_policy="initial_access_token"
    )


class Migration(migrations.Migration):
    dependencies = [("oauth_app", "0003_redeemed_codes")]

    operations = [
        migrations.RunPython(policy_to_source, source_to_policy),
        migrations.RemoveField(model_name="client", name="registration_policy"),
    ]
