"""A separate host site adopts the two apps: its own settings, URL prefix, authentication and user model.

The host site (tests/site/host_project/) runs in subprocesses, since this process is configured once
with tests.settings. What it proves: the apps migrate from zero next to a custom user model, pass
the system checks, serve the API under /ai/ with HTTP Basic authentication, and need no setting
from the host but CRYPTOGRAPHY_KEY. The static checks here keep the apps from reaching into the
standalone site (config/) or the tests.
"""

import importlib
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import migrations
from django.test import override_settings

from tests.conftest import PROJECT_ROOT, imported_modules
from tests.site.host_project.run import SMOKE_MARKER, describe, django_command, run_host, smoke
from vectorstores.conf import DEFAULTS, app_settings

APPS = ("credentials", "vectorstores")


def app_modules():
    return sorted(path for app in APPS for path in (PROJECT_ROOT / app).rglob("*.py"))


# --- the host site ------------------------------------------------------------------------------


@pytest.mark.subprocess
@pytest.mark.slow
def test_host_site_passes_the_system_checks_and_needs_no_new_migrations(tmp_path):
    result = run_host(
        [
            "-c",
            (
                "import django; django.setup()\n"
                "from django.core.management import call_command\n"
                "call_command('check', fail_level='WARNING')\n"
                "call_command('makemigrations', check=True, dry_run=True)\n"
            ),
        ],
        pythonpath=[PROJECT_ROOT],
        cwd=tmp_path,
    )
    assert result.returncode == 0, describe(result)
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "No changes detected" in result.stdout


@pytest.mark.subprocess
@pytest.mark.slow
def test_host_site_migrates_from_zero_and_serves_the_api_end_to_end(tmp_path):
    db = tmp_path / "host.sqlite3"
    assert not db.exists()

    migrate = django_command("migrate", "--noinput", pythonpath=[PROJECT_ROOT], cwd=tmp_path, db=db)
    assert migrate.returncode == 0, describe(migrate)
    applied = re.findall(r"Applying (\S+)\.\.\. OK", migrate.stdout)
    assert "credentials.0001_initial" in applied and "accounts.0001_initial" in applied
    # The credential's users M2M needs the host's user model first (swappable dependency).
    assert applied.index("accounts.0001_initial") < applied.index("credentials.0001_initial")
    assert "auth.0001_initial" in applied  # the database really started empty

    result = smoke(pythonpath=[PROJECT_ROOT], cwd=tmp_path, db=db)
    assert result.returncode == 0, describe(result)
    [line] = [line for line in result.stdout.splitlines() if line.startswith(SMOKE_MARKER)]
    report = json.loads(line.removeprefix(SMOKE_MARKER))
    assert Path(report["credentials"]).resolve().is_relative_to(PROJECT_ROOT)


@pytest.mark.subprocess
@pytest.mark.slow
@pytest.mark.parametrize("cryptography_key", ["omitted", "none", "empty"])
def test_a_host_site_without_cryptography_key_gets_the_documented_warning(tmp_path, cryptography_key):
    result = django_command(
        "check", pythonpath=[PROJECT_ROOT], cwd=tmp_path, env={"HOST_PROJECT_CRYPTOGRAPHY_KEY": cryptography_key}
    )
    assert result.returncode == 0, describe(result)  # a warning, not an error
    assert "(credentials.W001)" in result.stderr + result.stdout


# --- what the apps may depend on ------------------------------------------------------------------


def test_the_apps_never_import_the_standalone_site_or_the_tests():
    modules = app_modules()
    assert len(modules) > 10  # the walk found the apps
    offending = {
        f"{path.relative_to(PROJECT_ROOT)}: {name}"
        for path in modules
        for name in imported_modules(path)
        if name.split(".")[0] in {"config", "tests", "manage"}
    }
    assert not offending
    # Nor name them in settings-like strings ("config.settings", "config.urls", ...).
    mentions = [
        str(path.relative_to(PROJECT_ROOT)) for path in modules if re.search(r"""["']config[.'"]""", path.read_text())
    ]
    assert not mentions


def test_the_credential_migration_follows_auth_user_model():
    migration = importlib.import_module("credentials.migrations.0001_initial").Migration
    # migrations.swappable_dependency(settings.AUTH_USER_MODEL): the user model's app, whatever it is.
    assert migration.dependencies.count(migrations.swappable_dependency(settings.AUTH_USER_MODEL)) == 1
    assert any(
        getattr(dependency, "setting", None) == settings.AUTH_USER_MODEL for dependency in migration.dependencies
    )
    [create] = migration.operations
    users = dict(create.fields)["users"]
    assert users.remote_field.model == settings.AUTH_USER_MODEL
    assert users.swappable_setting == "AUTH_USER_MODEL"
    source = (PROJECT_ROOT / "credentials" / "migrations" / "0001_initial.py").read_text()
    assert "to=settings.AUTH_USER_MODEL" in source
    assert "auth.user'" not in source.lower() and 'auth.user"' not in source.lower()


# --- the apps' settings are read on every use -----------------------------------------------------


def test_app_settings_are_read_on_every_access(settings):
    site_values = dict(settings.OPENAI_VECTOR_STORES)  # tests.settings sets a few keys

    def expected(name, values=site_values):
        return values.get(name, DEFAULTS[name])

    assert app_settings.POLL_INTERVAL == expected("POLL_INTERVAL")
    assert app_settings.UPLOAD_CONCURRENCY == expected("UPLOAD_CONCURRENCY") != 2

    with override_settings(OPENAI_VECTOR_STORES={"UPLOAD_CONCURRENCY": 2}):
        assert app_settings.UPLOAD_CONCURRENCY == 2
        assert app_settings.POLL_INTERVAL == DEFAULTS["POLL_INTERVAL"]  # keys not given fall back to defaults
    assert app_settings.UPLOAD_CONCURRENCY == expected("UPLOAD_CONCURRENCY")
    assert app_settings.POLL_INTERVAL == expected("POLL_INTERVAL")

    settings.OPENAI_VECTOR_STORES = {"TIMEOUT": 5.0}
    assert app_settings.TIMEOUT == 5.0

    del settings.OPENAI_VECTOR_STORES  # a host site that never mentions the setting
    assert {name: getattr(app_settings, name) for name in DEFAULTS} == DEFAULTS


def test_an_unknown_app_setting_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="UPLOAD_CONCURENCY"):
        app_settings.UPLOAD_CONCURENCY  # noqa: B018
