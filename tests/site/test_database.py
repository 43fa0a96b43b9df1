"""The database: the site honours DATABASE_URL, and the schema keeps its promises on each backend.

These hold on any database. On PostgreSQL (`.ci/run`'s second pass, or DATABASE_URL set by hand)
they also prove that the encrypted key is a `bytea` column, that credential ids are native `uuid`s
and that the migrations applied cleanly there.
"""

import os
import uuid

import dj_database_url
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from credentials.models import Credential
from tests.conftest import TEST_API_KEY
from tests.credentials.credentials_crypto import db_pk

pytestmark = pytest.mark.django_db

TABLE = Credential._meta.db_table
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def column(name):
    """Django's introspected description of one column of the credential table."""
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, TABLE)
    (info,) = [col for col in description if col.name == name]
    return info


def django_field_type(name):
    """The model field Django would generate from the column's database type (as inspectdb does)."""
    info = column(name)
    return connection.introspection.get_field_type(info.type_code, info)


def declared_type(name):
    """The column's type as the database itself names it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s",
                [TABLE, name],
            )
            return cursor.fetchone()[0].lower()
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA table_info({connection.ops.quote_name(TABLE)})")
            return {row[1]: row[2].lower() for row in cursor.fetchall()}[name]
    pytest.skip(f"no declared-type check for {connection.vendor}")


def raw_row(credential):
    """The row's api_key value and its type, straight from the database (no field conversion)."""
    type_of = "pg_typeof(api_key)::text" if connection.vendor == "postgresql" else "typeof(api_key)"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT api_key, {type_of} FROM {TABLE} WHERE id = %s", [db_pk(credential.pk)])
        return cursor.fetchone()


# --- DATABASE_URL ------------------------------------------------------------------


def test_database_url_decides_the_database():
    """With DATABASE_URL set, the tests run on that server; without it, on SQLite."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        assert connection.vendor == "sqlite"
        return
    expected = dj_database_url.parse(url)
    assert connection.settings_dict["ENGINE"] == expected["ENGINE"]
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        assert connection.vendor == "postgresql"
        assert connection.settings_dict["HOST"] == expected["HOST"]
        assert str(connection.settings_dict["PORT"]) == str(expected["PORT"])
        assert connection.settings_dict["USER"] == expected["USER"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database()")
            user, database = cursor.fetchone()
        assert user == expected["USER"]
        # pytest-django runs on test_<name> (test_<name>_gw<n> under xdist), never on <name> itself.
        assert database.startswith(f"test_{expected['NAME']}")


# --- the encrypted key -------------------------------------------------------------


def test_api_key_column_is_binary():
    assert django_field_type("api_key") == "BinaryField"
    assert declared_type("api_key") == {"postgresql": "bytea", "sqlite": "blob"}[connection.vendor]


def test_api_key_is_stored_as_encrypted_bytes(credential):
    value, stored_type = raw_row(credential)

    assert stored_type == {"postgresql": "bytea", "sqlite": "blob"}[connection.vendor]
    raw = bytes(value)
    assert raw
    assert TEST_API_KEY.encode() not in raw
    assert TEST_API_KEY[8:-4].encode() not in raw
    # ...and the model reads the key back intact.
    assert Credential.objects.get(pk=credential.pk).api_key == TEST_API_KEY


def test_api_key_round_trips_any_text(db):
    key = "sk-ünïcode-\x00-" + "x" * 400 + "-ßé"  # NUL and non-ASCII bytes inside the ciphertext too
    credential = Credential.objects.create(name="Odd key", api_key=key)
    assert Credential.objects.get(pk=credential.pk).api_key == key


# --- UUID keys ----------------------------------------------------------------------


def test_credential_id_column_type():
    if connection.features.has_native_uuid_field:
        assert django_field_type("id") == "UUIDField"
    else:
        assert django_field_type("id") == "CharField"
        if connection.vendor == "sqlite":
            assert declared_type("id") == "char(32)"  # the hex digits, no dashes


def test_credential_ids_are_uuids_and_look_up_in_any_spelling(credential):
    assert isinstance(credential.pk, uuid.UUID)
    for spelling in (credential.pk, str(credential.pk), credential.pk.hex, str(credential.pk).upper()):
        assert Credential.objects.get(pk=spelling) == credential


@postgresql_only
def test_credential_id_is_a_native_uuid_on_postgresql(credential):
    assert declared_type("id") == "uuid"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, pg_typeof(id)::text FROM {TABLE}")
        value, stored_type = cursor.fetchone()
    assert stored_type == "uuid"
    assert value == credential.pk  # psycopg hands back a uuid.UUID


@postgresql_only
def test_the_database_enforces_uuid_syntax_on_postgresql(db):
    from django.db import DataError, transaction

    with pytest.raises(DataError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {TABLE} WHERE id = %s::uuid", ["not-a-uuid"])


# --- migrations ---------------------------------------------------------------------


def test_all_migrations_are_applied():
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    assert executor.migration_plan(targets) == []
    applied = executor.loader.applied_migrations
    assert ("credentials", "0001_initial") in applied
    assert executor.loader.graph.leaf_nodes("credentials")[0] in applied


def test_the_schema_has_every_table_the_models_need():
    from django.apps import apps

    tables = set(connection.introspection.table_names())
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy:
            assert model._meta.db_table in tables, model


# --- text PostgreSQL refuses ----------------------------------------------------------
# PostgreSQL's text columns cannot hold NUL characters (SQLite's can): whatever the API copies
# from a request into the database must survive one, and a failed write must not poison the
# transaction for what follows.


@pytest.mark.parametrize("where", ["query", "path"])
def test_a_nul_in_the_request_gets_a_400_and_is_still_audited(api, credential, where):
    from tests.conftest import API_ROOT
    from vectorstores.models import AuditEntry

    if where == "query":
        path = f"{API_ROOT}?credential=%00{credential.pk}"
    else:
        path = f"{API_ROOT}/vs_%00abc?credential={credential.pk}"
    before = AuditEntry.objects.count()

    response = api.get(path)

    assert response.status_code == 400, response.content
    assert AuditEntry.objects.count() == before + 1  # the database is still usable, and the call recorded
