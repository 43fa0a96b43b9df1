"""The README's "Install into your Django site", followed word for word into a new `startproject` site.

The marked code blocks of the README (tests/readme.py) are pasted at the end of the new site's
settings.py and urls.py, and its testing example becomes the site's own tests; the site then passes
Django's checks, migrates, and its tests use the API, the docs pages and the console.
"""

import re
import subprocess
import sys

import pytest

from tests.hosts import environment, manage, run_host_pytest
from tests.readme import recipe_blocks

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

# What the new site's own tests check beyond the README's example: the rest of the recipe's promises.
RECIPE_CHECKS = """
import logging

from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from vectorstores.redaction import RedactAPIKeysFilter
from vectorstores.testing import create_credential


def test_an_anonymous_call_is_401_and_a_token_call_works(fake_openai, django_user_model):
    url = reverse("vectorstores:vector-store-list")
    user = django_user_model.objects.create_user("ann", password="x")
    credential = create_credential(fake_openai, users=[user])
    assert APIClient().get(url, {"credential": credential.pk}).status_code == 401
    client = APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get(url, {"credential": credential.pk}).status_code == 200


def test_the_docs_pages_and_schema_use_no_cdn(client):
    schema = client.get("/ai/schema/", HTTP_ACCEPT="application/json").json()
    api = "/ai/openai-assistants-vector-store"
    assert set(schema["paths"]) >= {api, api + "/{store_id}"}
    for page in ("/ai/docs/", "/ai/redoc/"):
        html = client.get(page).content.decode()
        assert "/static/drf_spectacular_sidecar/" in html and "cdn." not in html


def test_the_console_is_in_admin(admin_client, openai_credential):
    page = admin_client.get(reverse("admin:credentials_credential_vector_stores", args=[openai_credential.pk]))
    assert page.status_code == 200
    changelist = admin_client.get(reverse("admin:credentials_credential_changelist")).content.decode()
    assert "test_connection" in changelist


def test_log_lines_pass_the_key_filter():
    assert any(isinstance(f, RedactAPIKeysFilter) for h in logging.getLogger().handlers for f in h.filters)
"""


@pytest.fixture(scope="module")
def host_site(tmp_path_factory):
    """A `django-admin startproject` site with the README's snippets pasted in (not migrated)."""
    site = tmp_path_factory.mktemp("recipe")
    blocks = recipe_blocks()
    subprocess.run([sys.executable, "-m", "django", "startproject", "hostsite", str(site)], check=True)
    for name in ("settings.py", "urls.py"):
        with open(site / "hostsite" / name, "a") as module:
            module.write("\n" + blocks[name])
    for name in ("conftest.py", "test_vector_stores.py"):
        (site / name).write_text(blocks[name])
    (site / "test_recipe.py").write_text(RECIPE_CHECKS)
    return site


def site_env(site, **values):
    """The new site's environment: none of this process's Django or key settings."""
    return environment(without=("DJANGO_", "CRYPTOGRAPHY_"), PYTHONPATH=site, **values)


def test_the_recipe_passes_djangos_checks_and_migrates(host_site):
    env = site_env(host_site, CRYPTOGRAPHY_KEYS="recipe-key-new,recipe-key-old")
    check = manage("check", "--fail-level", "WARNING", cwd=host_site, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    migrate = manage("migrate", "--noinput", cwd=host_site, env=env)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr


def test_the_recipe_passes_the_deployment_checks_of_its_apps(host_site):
    """`check --deploy` also runs drf-spectacular's check, which builds a document of every view of the site:
    the apps' views must fit it whatever the host's DEFAULT_SCHEMA_CLASS, and the recipe's ENUM_NAME_OVERRIDES
    name their enums. (startproject's own settings warn, and may fail.)"""
    env = site_env(host_site, CRYPTOGRAPHY_KEYS="recipe-key-new")
    check = manage("check", "--deploy", cwd=host_site, env=env)
    output = check.stdout + check.stderr
    assert "System check identified" in output or check.returncode == 0, output  # it ran
    # Errors of startproject's own settings may stand (Django 6.1's console mailer is mail.E001); none of ours.
    errors = set(re.findall(r"\(([\w.]+\.E\d+)\)", output))
    assert {error for error in errors if not error.startswith(("mail.", "security."))} == set(), output
    assert "drf_spectacular.W001" not in output


def test_the_recipes_site_passes_its_tests(host_site, monkeypatch):
    monkeypatch.setenv("CRYPTOGRAPHY_KEYS", "recipe-key-new")
    result = run_host_pytest(host_site, settings="hostsite.settings", pythonpath=[host_site])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout, result.stdout


def test_the_recipe_without_encryption_keys_stops_with_a_key_error(host_site):
    result = manage("check", cwd=host_site, env=site_env(host_site))
    assert result.returncode != 0 and "KeyError: 'CRYPTOGRAPHY_KEYS'" in result.stderr
