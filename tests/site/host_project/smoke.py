"""End-to-end use of the two apps inside the host site, run as `python -m tests.site.host_project.smoke`.

Needs DJANGO_SETTINGS_MODULE=tests.site.host_project.settings and HOST_PROJECT_DB naming a database
that `migrate` has already brought up from zero. With HOST_PROJECT_EXPECT_APPS_IN=<dir> it also
insists that `credentials` and `vectorstores` are imported from <dir> (an installed wheel) and that
the standalone site's `config` package cannot be imported at all.

Prints one JSON line prefixed with MARKER when every check passed; tests/site/test_host_site.py and
tests/site/test_packaging.py look for it. Any failed check raises, so the process exits non-zero.
"""

import base64
import importlib.util
import io
import json
import os
import sys
import warnings
from pathlib import Path

import django

from tests.site.host_project.run import SMOKE_MARKER as MARKER

API_KEY = "sk-host-" + "h0st" * 6 + "c3d4"


def basic_auth(email, password):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    # As in the test suite (pyproject.toml's filterwarnings): a deprecated Django API fails the run.
    from django.utils.deprecation import RemovedAfterNextVersionWarning, RemovedInNextVersionWarning

    for category in (RemovedInNextVersionWarning, RemovedAfterNextVersionWarning):
        warnings.simplefilter("error", category)
    django.setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.test import Client
    from django.urls import reverse

    import credentials
    import vectorstores
    from credentials.models import Credential
    from tests.site.host_project.accounts.models import Member
    from vectorstores.testing.fake_openai import FakeOpenAI

    report = {"credentials": credentials.__file__, "vectorstores": vectorstores.__file__}

    # --- where the apps come from, and what they read -------------------------------------
    expected_dir = os.environ.get("HOST_PROJECT_EXPECT_APPS_IN")
    if expected_dir:
        for module in (credentials, vectorstores):
            check(
                Path(module.__file__).resolve().is_relative_to(Path(expected_dir).resolve()),
                f"{module.__name__} imported from {module.__file__}, not from {expected_dir}",
            )
        check(importlib.util.find_spec("config") is None, "the standalone site's config package is importable")
    check(not hasattr(settings, "OPENAI_VECTOR_STORES"), "the host site sets no OPENAI_VECTOR_STORES")

    # --- `migrate` left nothing unapplied ---------------------------------------------------
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    check(not unapplied, f"unapplied migrations: {unapplied}")

    # --- the custom user model is the one the apps use ------------------------------------
    check(get_user_model() is Member, "AUTH_USER_MODEL is accounts.Member")
    users_field = Credential._meta.get_field("users")
    check(users_field.remote_field.model is Member, f"Credential.users points to {users_field.remote_field.model}")
    through_table = users_field.remote_field.through._meta.db_table
    with connection.cursor() as cursor:
        relations = connection.introspection.get_relations(cursor, through_table)
    # (column, table) up to Django 6.0; Django 6.1 adds the on_delete action as a third item.
    check(
        ("id", Member._meta.db_table) in {relation[:2] for relation in relations.values()},
        f"{through_table} has no foreign key to {Member._meta.db_table}: {relations}",
    )

    # --- people: a member, an outsider, a superuser ----------------------------------------
    ann = Member.objects.create_user("ann@example.com", "ann-password", display_name="Ann")
    bob = Member.objects.create_user("bob@example.com", "bob-password")
    Member.objects.create_superuser("root@example.com", "root-password")

    fake = FakeOpenAI(api_keys={API_KEY})
    fake.start()
    try:
        # The management command finds users by the custom model's USERNAME_FIELD (email).
        out = io.StringIO()
        call_command(
            "create_credential",
            "--name",
            "Host site key",
            "--base-url",
            fake.base_url,
            "--user",
            "ann@example.com",
            stdin=io.StringIO(API_KEY + "\n"),
            stdout=out,
        )
        credential_id = out.getvalue().strip().splitlines()[-1]
        credential = Credential.objects.get(pk=credential_id)
        check(list(credential.users.all()) == [ann], "the credential is usable by ann")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT api_key FROM {Credential._meta.db_table}")
            stored = cursor.fetchone()[0]
        stored = bytes(stored) if isinstance(stored, memoryview) else stored
        check(
            API_KEY.encode() not in (stored if isinstance(stored, bytes) else stored.encode()),
            "the API key is stored encrypted",
        )

        root = reverse("vectorstores:vector-store-list")
        check(root == "/ai/openai-assistants-vector-store", f"the list route is {root}")
        query = f"?credential={credential_id}"
        client = Client()
        as_ann = basic_auth("ann@example.com", "ann-password")

        response = client.get(root + query, **as_ann)
        check(
            response.status_code == 200 and response.json() == [],
            f"empty list: {response.status_code} {response.content!r}",
        )

        response = client.post(
            root + query,
            data={"name": "Host docs", "metadata": {"site": "host"}},
            content_type="application/json",
            **as_ann,
        )
        check(response.status_code == 200, f"create: {response.status_code} {response.content!r}")
        created = response.json()
        check(
            created["object"] == "vector_store"
            and created["name"] == "Host docs"
            and created["metadata"] == {"site": "host"}
            and created["id"].startswith("vs_"),
            f"created: {created}",
        )
        check(fake.vector_stores[created["id"]]["name"] == "Host docs", "the store exists at (fake) OpenAI")
        sent = fake.requests_to("POST", "/vector_stores")
        check(
            len(sent) == 1 and sent[0].headers["authorization"] == f"Bearer {API_KEY}",
            "OpenAI was called once with the credential's key",
        )

        response = client.get(root + query, **as_ann)
        check(response.status_code == 200 and response.json() == [created], f"list: {response.content!r}")
        detail = f"{root}/{created['id']}{query}"
        response = client.get(detail, **as_ann)
        check(response.status_code == 200 and response.json() == created, f"get: {response.content!r}")

        # An upload streams through the apps' upload handler and polls the batch, on default settings.
        upload = io.BytesIO(b"How to reset a password: ...")
        upload.name = "faq.txt"
        response = client.post(detail, data={"files": [upload]}, **as_ann)
        check(response.status_code == 200, f"upload: {response.status_code} {response.content!r}")
        check([item["filename"] for item in response.json()] == ["faq.txt"], f"upload: {response.content!r}")
        response = client.get(f"{root}/{created['id']}/files{query}", **as_ann)
        check(response.status_code == 200 and len(response.json()) == 1, f"files: {response.content!r}")

        # Who may use the credential, with the custom user model.
        as_bob = basic_auth("bob@example.com", "bob-password")
        response = client.get(root + query, **as_bob)
        check(
            response.status_code == 404 and response.json()["code"] == "credential_not_found",
            f"bob may not use it: {response.status_code} {response.content!r}",
        )
        readers = Group.objects.create(name="ai-readers")
        bob.groups.add(readers)
        credential.groups.add(readers)
        response = client.get(root + query, **as_bob)
        check(response.status_code == 200, f"bob may use it through a group: {response.status_code}")
        response = client.get(root + query, **basic_auth("root@example.com", "root-password"))
        check(response.status_code == 200, f"a superuser may use any credential: {response.status_code}")

        response = client.get(root + query, **basic_auth("ann@example.com", "wrong"))
        check(
            response.status_code == 401
            and response.json()["code"] == "authentication_failed"
            and response["WWW-Authenticate"].startswith("Basic"),
            f"bad password: {response.content!r}",
        )
        response = client.get(root + query)
        # The API demands authentication itself, whatever the host's DRF permission default (AllowAny here).
        check(
            response.status_code == 401 and response.json()["code"] == "not_authenticated",
            f"anonymous: {response.status_code} {response.content!r}",
        )
        report["anonymous_status"] = response.status_code
        report["anonymous_code"] = response.json()["code"]

        response = client.get(f"{root}/{created['id']}/nothing/here{query}", **as_ann)
        check(response.status_code == 404 and response.json()["code"] == "not_found", "JSON 404 under the prefix")

        response = client.delete(detail, **as_ann)
        check(response.status_code == 200 and response.json()["deleted"] is True, f"delete: {response.content!r}")

        # The admin, with the custom user model: who may use it is shown by email, the key never is.
        staff = Client()
        staff.force_login(Member.objects.get(email="root@example.com"))
        for page in ("/staff/credentials/credential/", f"/staff/credentials/credential/{credential_id}/change/"):
            response = staff.get(page)
            check(response.status_code == 200, f"admin {page}: {response.status_code}")
            html = response.content.decode()
            check("ann@example.com" in html and API_KEY not in html, f"admin {page} shows users, never the key")
    finally:
        fake.stop()

    check("config" not in sys.modules, "the apps imported the standalone site's config package")
    print(MARKER + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
