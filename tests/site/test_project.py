"""The project's own checks: system checks, migrations, the OpenAPI document."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_system_checks_pass():
    call_command("check", fail_level="WARNING")


def test_migrations_are_committed():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_openapi_document_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/openai-assistants-vector-store/{store_id}/search" in schema


def test_an_unknown_app_setting_is_a_system_check_error(settings):
    from vectorstores.checks import check_app_settings

    settings.OPENAI_VECTOR_STORES = {"UPLOAD_CONCURENCY": 3}
    errors = check_app_settings(None)
    assert [error.id for error in errors] == ["vectorstores.E001"]


def test_the_sites_root_leads_to_the_apis_docs(client):
    """A new user opens the site's root (or admin's "View site") first: it was a 404."""
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/api/docs/")
    assert client.get(response["Location"]).status_code == 200
