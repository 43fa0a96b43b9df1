"""`pip install .` ships the two apps, and only them, with what a host site needs to adopt them.

The wheel is built from a copy of the checkout (so the build's build/ and *.egg-info never touch
the work tree), inspected, then installed with --no-deps into a folder of its own; the host site
of tests/site/host_project/ then migrates and serves from that folder, with the checkout's sources and
config/ out of reach.
"""

import email.parser
import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import PROJECT_ROOT
from tests.site.host_project.run import SMOKE_MARKER, describe, django_command, smoke

APPS = ("credentials", "vectorstores")
# The first setuptools that writes `license = "MIT"` (a PEP 639 license expression) instead of rejecting it.
SETUPTOOLS_WITH_LICENSE_EXPRESSIONS = Version("77.0")
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    ".nox",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    "build",
    "dist",
    "*.sqlite3",
    ".dev-secrets.json",
    ".pytest_cache",
    "staticfiles",
    "test-artifacts",
    "node_modules",
)


def source_files(app):
    """Every file of an app in the checkout that an install must carry (no bytecode)."""
    return sorted(
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in (PROJECT_ROOT / app).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def local_setuptools_can_build():
    try:
        return Version(importlib.metadata.version("setuptools")) >= SETUPTOOLS_WITH_LICENSE_EXPRESSIONS
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `pip wheel .` builds from (a copy of) this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "checkout"
    shutil.copytree(PROJECT_ROOT, source, ignore=NOT_COPIED)
    # The copy holds what the wheel must leave out, so leaving it out means something.
    assert (
        (source / "config" / "settings.py").exists() and (source / "tests").is_dir() and (source / "manage.py").exists()
    )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(source)]
    if local_setuptools_can_build():
        command.insert(4, "--no-build-isolation")  # no download at all
    # Otherwise pip fetches setuptools for an isolated build from the configured index.
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, describe(result)
    [built] = (work / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        [name] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_wheel_holds_both_apps_with_migrations_commands_templates_and_static_files(wheel_names):
    for required in (
        "credentials/migrations/0001_initial.py",
        "credentials/management/commands/create_credential.py",
        "credentials/models.py",
        "credentials/admin.py",
        "vectorstores/urls.py",
        "vectorstores/api/views.py",
        "vectorstores/testing/fake_openai/server.py",
    ):
        assert required in wheel_names
    # The gateway, as a module or as a package.
    assert {"vectorstores/gateway.py", "vectorstores/gateway/__init__.py"} & wheel_names
    for app in APPS:
        files = source_files(app)
        assert f"{app}/apps.py" in files  # the walk found the app
        # Everything the app holds (modules, migrations, templates/, static/, data files) is in the wheel.
        assert [path for path in files if path not in wheel_names] == []


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_wheel_leaves_out_the_standalone_site_and_the_tests(wheel_names):
    top_level = {name.split("/")[0] for name in wheel_names}
    dist_info = {name for name in top_level if name.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top_level - dist_info == set(APPS)  # no config/, tests/, templates/, manage.py
    assert not any(name.endswith(".pyc") for name in wheel_names)


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_wheel_metadata_names_dependencies_extras_license_and_classifiers(metadata):
    assert metadata["Name"] == "django-openai-vectorstores"
    assert metadata["Requires-Python"] == ">=3.11"
    requirements = [Requirement(text) for text in metadata.get_all("Requires-Dist")]
    runtime = {requirement.name.lower(): requirement for requirement in requirements if requirement.marker is None}
    for name in ("django", "djangorestframework", "openai", "drf-spectacular", "cryptography"):
        assert name in runtime, f"{name} is not a dependency"
        assert any(spec.operator in (">=", "~=", "==") for spec in runtime[name].specifier), (
            f"{name} has no lower bound"
        )
    assert not runtime["django"].specifier.contains("5.1") and runtime["django"].specifier.contains("5.2")
    # The standalone site's own needs are not forced on a host site.
    assert {"dj-database-url", "whitenoise", "granian", "drf-spectacular-sidecar"}.isdisjoint(runtime)

    extras = set(metadata.get_all("Provides-Extra"))
    assert {"test", "postgres"} <= extras
    for extra, package in (("postgres", "psycopg"), ("test", "pytest-django")):
        assert any(r.name == package and r.marker and r.marker.evaluate({"extra": extra}) for r in requirements)

    assert metadata["License-Expression"] == "MIT" or metadata["License"]
    classifiers = metadata.get_all("Classifier")
    assert "Framework :: Django" in classifiers
    # Exactly what noxfile.py's matrix tests.
    assert {c for c in classifiers if c.startswith("Framework :: Django ::")} == {
        f"Framework :: Django :: {version}" for version in ("5.2", "6.0", "6.1")
    }
    assert {c for c in classifiers if c.startswith("Programming Language :: Python :: 3.")} == {
        f"Programming Language :: Python :: 3.{minor}" for minor in (11, 12, 13)
    }
    assert not runtime["django"].specifier.contains("6.2")


def test_the_build_requirements_admit_only_a_setuptools_that_can_build_the_project():
    build_system = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["build-system"]
    [setuptools] = [Requirement(text) for text in build_system["requires"] if Requirement(text).name == "setuptools"]
    assert not setuptools.specifier.contains("76.1.0")
    assert setuptools.specifier.contains(str(SETUPTOOLS_WITH_LICENSE_EXPRESSIONS))


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_installed_wheel_alone_serves_a_host_site(wheel, tmp_path):
    """Installed with --no-deps (dependencies come from this venv), away from the checkout's sources."""
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, describe(install)
    assert (site / "credentials" / "migrations" / "0001_initial.py").exists()
    assert not (site / "config").exists() and not (site / "tests").exists()

    # The host site, without the rest of the checkout (no config/, no apps; the fake OpenAI is the wheel's).
    host = tmp_path / "host"
    (host / "tests" / "site").mkdir(parents=True)
    for package in ("tests", "tests/site"):
        shutil.copy2(PROJECT_ROOT / package / "__init__.py", host / package / "__init__.py")
    shutil.copytree(
        PROJECT_ROOT / "tests" / "site" / "host_project", host / "tests" / "site" / "host_project", ignore=NOT_COPIED
    )
    run_dir = tmp_path / "run"  # the working directory, first on sys.path: empty
    run_dir.mkdir()
    where = {"pythonpath": [site, host], "cwd": run_dir, "db": tmp_path / "host.sqlite3"}

    migrate = django_command("migrate", "--noinput", **where)
    assert migrate.returncode == 0, describe(migrate)
    assert "Applying credentials.0001_initial... OK" in migrate.stdout

    result = smoke(**where, env={"HOST_PROJECT_EXPECT_APPS_IN": str(site)})
    assert result.returncode == 0, describe(result)
    assert any(line.startswith(SMOKE_MARKER) for line in result.stdout.splitlines())
