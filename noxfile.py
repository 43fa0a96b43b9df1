"""The test matrix: every supported Python and Django, each in a virtualenv of its own under .nox/.

    nox                        what CI runs (.ci/run) besides `make test`: the whole suite on the newest
                               pair, the smoke subset on every pair but .venv's, and `minimum`: the smoke
                               subset and the extras' tests on the lowest versions pyproject.toml declares
    nox -t tests               the whole suite on every pair
    nox -t matrix              that and `minimum` (`make matrix`)
    nox -l                     every session
    nox -s smoke-3.12-django6.0 -- -x     one session; arguments after -- go to pytest

`make test` stays the one command for the default environment (.venv: Python 3.11, Django 5.2).

The interpreters are pyenv's (its shims refuse to run without PYENV_VERSION), found by absolute
path; set NOX_PYTHON_3_12=/path/to/python3.12 (and so on) to use another. Nox never downloads one.
"""

import functools
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import nox

nox.needs_version = ">=2025.10.16"  # download_python
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True  # a missing Python fails the run, never skips it

ROOT = Path(__file__).resolve().parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# (Python, Django): what pyproject.toml's classifiers promise. Django 6.x needs Python 3.12 or later.
MATRIX = [
    ("3.11", "5.2"),
    ("3.12", "5.2"),
    ("3.12", "6.0"),
    ("3.12", "6.1"),
    ("3.13", "5.2"),
    ("3.13", "6.0"),
    ("3.13", "6.1"),
]
NEWEST = MATRIX[-1]  # CI runs the whole suite here, browser tests included
DEFAULT = MATRIX[0]  # .venv's, where `make test` runs the whole suite
OLDEST_PYTHON = MATRIX[0][0]

# The smoke subset: every test that runs the apps inside a host site or from the built wheel (they
# import, migrate and serve through the whole stack), the model code Django calls back into, the
# main API paths, the admin, the live-server concurrency tests and the fake OpenAI they rely on.
# About a minute on 2 cores; the slow exhaustive modules (schemathesis, hypothesis, deploy, faults)
# and the browser tests are left to the whole-suite runs.
SMOKE = [
    "tests/site/test_host_site.py",
    "tests/site/test_packaging.py",
    "tests/site/test_project.py",
    "tests/credentials/test_credential_model.py",
    "tests/credentials/test_credential_admin.py",
    "tests/credentials/test_undecryptable_credentials.py",
    "tests/api/test_vector_stores.py",
    "tests/api/test_uploads.py",
    "tests/api/test_store_files.py",
    "tests/api/test_access.py",
    "tests/api/test_openapi.py",
    "tests/api/test_concurrency.py",
    "tests/gateway/test_client_reuse.py",
    "tests/testing/test_fake_openai.py",
]
# `minimum` adds the modules that need the extras' own packages, so that their lower bounds are tested too.
EXTRAS_TESTS = [
    "tests/site/test_deploy.py",  # granian, whitenoise, dj-database-url (the site extra)
    "tests/api/test_properties.py",  # hypothesis
    "tests/api/test_schemathesis.py",  # schemathesis
    "tests/console/e2e",  # playwright, driving Debian's /usr/bin/chromium
]
EXTRAS = ".[site,postgres,test]"
# test_packaging builds the wheel without build isolation when the venv's setuptools can (no download).
BUILD_TOOLS = "setuptools>=77"


# --- interpreters ---------------------------------------------------------------------------------


def _python_version(executable):
    """'3.12' for a working interpreter, else None."""
    try:
        result = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYENV_VERSION": ""},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _pyenv_candidates(version):
    """pythonX.Y of each pyenv-installed X.Y.*, newest patch release first."""
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    if shutil.which("pyenv"):
        try:
            roots.insert(
                0, subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip()
            )
        except (OSError, subprocess.SubprocessError):
            pass
    found = []
    for root in filter(None, roots):
        for directory in Path(root, "versions").glob(f"{version}.*"):
            if re.fullmatch(rf"{re.escape(version)}\.\d+", directory.name):
                found.append(
                    (tuple(int(part) for part in directory.name.split(".")), directory / "bin" / f"python{version}")
                )
    return [str(path) for _, path in sorted(found, reverse=True)]


@functools.cache
def interpreter(version):
    """The absolute path of a working Python `version` (e.g. '3.12'), or None.

    Looked for in order: $NOX_PYTHON_3_12 (then nothing else), pyenv's versions/3.12.*, python3.12 on
    PATH. Each candidate is run to check it: a pyenv shim on PATH, for one, refuses to run without
    PYENV_VERSION.
    """
    override = os.environ.get(_override_variable(version))
    candidates = [override] if override else [*_pyenv_candidates(version), shutil.which(f"python{version}")]
    for candidate in filter(None, candidates):
        if _python_version(candidate) == version:
            return candidate
    return None


def _override_variable(version):
    return f"NOX_PYTHON_{version.replace('.', '_')}"


def define_session(name, version, tags, body, doc):
    """Define a session on Python `version`: `body(session)` in its virtualenv, or a clear failure
    (instead of nox's bare "interpreter not found") when that Python is nowhere to be found."""
    python = interpreter(version)

    def run(session):
        if python is None:
            variable = _override_variable(version)
            given = os.environ.get(variable)
            session.error(
                f"{variable}={given} is not a working Python {version}"
                if given
                else f"Python {version} not found: none in pyenv ($(pyenv root)/versions/{version}.*) "
                f"nor python{version} "
                f"on PATH. Install it (pyenv install {version}) or set {variable}=/path/to/python{version}"
            )
        body(session)

    run.__doc__ = doc
    # Without the interpreter, a session with no virtualenv that only says so.
    nox.session(name=name, python=python or False, tags=tags)(run)
    return name


# --- what a session runs --------------------------------------------------------------------------


def install(session, *requirements, constraints=None):
    command = ["--upgrade-strategy", "only-if-needed", BUILD_TOOLS, "-e", EXTRAS, *requirements]
    if constraints:
        command += ["--constraint", str(constraints)]
    session.install(*command)
    session.run("python", "-m", "pip", "check")
    session.run(
        "python", "-c", "import sys, django; print('Python', sys.version.split()[0], '/ Django', django.__version__)"
    )


def pytest(session, *paths):
    """pytest on `paths` (the whole suite when none), on as many workers as cores, plus the session's posargs."""
    session.run(
        "python",
        "-m",
        "pytest",
        "-n",
        os.environ.get("PYTEST_WORKERS", "auto"),
        "-p",
        "no:cacheprovider",
        *paths,
        *session.posargs,
    )


def _register(kind, python, django, paths, ci):
    """Define the session `kind-python-djangoX.Y`; returns its name."""

    def body(session):
        install(session, f"Django=={django}.*")
        pytest(session, *paths)

    what = "The smoke subset" if paths else "The whole suite"
    tags = [kind, *(["matrix"] if kind == "tests" else []), *(["ci"] if ci else [])]
    return define_session(
        f"{kind}-{python}-django{django}",
        python,
        tags,
        body,
        f"{what} on Python {python}, Django {django}{' (CI)' if ci else ''}.",
    )


# CI (and a bare `nox`): the whole suite on the newest pair, the smoke subset on every other pair but
# the default one (.venv's, whose whole suite `make test` runs).
def _in_ci(kind, pair):
    return pair == NEWEST if kind == "tests" else pair not in (NEWEST, DEFAULT)


CI_SESSIONS = []
for _kind, _paths in (("tests", []), ("smoke", SMOKE)):
    for _pair in MATRIX:
        _name = _register(_kind, *_pair, _paths, ci=_in_ci(_kind, _pair))
        if _in_ci(_kind, _pair):
            CI_SESSIONS.append(_name)


# --- the lowest declared versions ---------------------------------------------------------------


def lowest_versions():
    """name==X for every `name>=X` of pyproject's dependencies and of the extras a session installs."""
    from packaging.requirements import Requirement

    project = PYPROJECT["project"]
    texts = [*project["dependencies"]]
    for extra in ("site", "postgres", "test"):
        texts += project["optional-dependencies"][extra]
    pins = []
    for text in texts:
        requirement = Requirement(text)
        floors = [spec.version for spec in requirement.specifier if spec.operator in (">=", "~=", "==")]
        if not floors:
            raise SystemExit(f"noxfile: {text!r} in pyproject.toml has no lower bound")
        pins.append(f"{requirement.name}=={floors[0]}")
    return pins


def _minimum(session):
    constraints = Path(session.create_tmp()) / "lowest.txt"
    constraints.write_text("\n".join(lowest_versions()) + "\n")
    session.log("lowest versions: " + ", ".join(constraints.read_text().split()))
    install(session, constraints=constraints)
    pytest(session, *SMOKE, *EXTRAS_TESTS)


define_session(
    "minimum",
    OLDEST_PYTHON,
    ["matrix", "ci"],
    _minimum,
    "The smoke subset and the extras' tests, every declared dependency at its lower bound, oldest Python.",
)
CI_SESSIONS.append("minimum")
nox.options.sessions = CI_SESSIONS
