"""The provenance migration moves `registration_policy` into django-oauth-toolkit's `registration_source`."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("oauth_app", "0003_redeemed_codes")]
AFTER = [("oauth_app", "0004_client_provenance")]


@pytest.mark.django_db(transaction=True)
def test_the_registration_policy_becomes_the_registration_source():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("oauth_app", "Client")
    policies = {"initial_access_token": "dcr", "open": "dcr", "command": "manual", "admin": "manual", "cimd": "cimd"}
    for policy in policies:
        # Rows as an older version could leave them: the source not yet in step with the policy.
        old.objects.create(client_id=f"c-{policy}", name=policy, registration_policy=policy,
                           registration_source="manual", redirect_uris="https://app.example.com/cb")
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("oauth_app", "Client")
    moved = dict(new.objects.filter(client_id__startswith="c-").values_list("name", "registration_source"))
    assert moved == policies
    assert "registration_policy" not in {field.name for field in new._meta.get_fields()}
