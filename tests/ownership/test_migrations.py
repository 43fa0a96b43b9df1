"""Upgrading keeps every site's behaviour: credentials that exist stay `shared`; only new ones are `owned`."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from credentials.models import Credential

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BEFORE = [("credentials", "0003_base_url_allow_list"), ("vectorstores", "0002_audit_method_any_length")]
AFTER = [("credentials", "0004_credential_access_mode"), ("vectorstores", "0003_store_ownership")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest():
    """Every app at its last migration again, so that the tests after this one find every table."""
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_existing_credentials_stay_shared_and_their_data_is_kept(django_user_model):
    old = migrate(BEFORE)
    user = old.get_model("auth", "User").objects.create(username="alice")
    credential = old.get_model("credentials", "Credential").objects.create(
        name="Existing key", api_key="sk-test-existing-key-1234", base_url="http://127.0.0.1:9/v1"
    )
    credential.users.add(user)
    old.get_model("vectorstores", "AuditEntry").objects.create(
        username="alice", operation="retrieve", method="GET", vector_store_id="vs_1", status_code=200, duration_ms=3
    )
    try:
        new = migrate(AFTER)
        upgraded = new.get_model("credentials", "Credential").objects.get(pk=credential.pk)
        assert upgraded.access_mode == "shared"
        assert upgraded.name == "Existing key" and list(upgraded.users.values_list("username", flat=True)) == ["alice"]
        entry = new.get_model("vectorstores", "AuditEntry").objects.get()
        assert (entry.vector_store_id, entry.store_owner) == ("vs_1", "")
    finally:
        migrate_to_latest()
    assert Credential(name="new").access_mode == "owned"
