"""Running Python in a process of its own: as a host site would (pytest, manage.py), or as a fresh
interpreter that has imported one module and nothing else. None of this checkout's configuration
leaks in unless a caller passes it.

Every test that calls these is marked `subprocess` (pyproject.toml's markers).
"""

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
import redis

from tests.conftest import PROJECT_ROOT, free_port


def environment(*, without=("DJANGO_",), **values):
    """This process's environment variables, less those whose names start with any of `without`, plus `values`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(tuple(without))}
    env.update({name: str(value) for name, value in values.items()})
    return env


def manage(*args, cwd=PROJECT_ROOT, env=None, timeout=120, **kwargs):
    """`python manage.py <args>` in `cwd` (this checkout's, by default) with `env`; the CompletedProcess (text).

    Other keywords go to subprocess.run (e.g. `input=` for the command's stdin).
    """
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def modules_imported_by(module):
    """The names of every module a fresh interpreter has loaded once it has imported `module`.

    Run from this checkout without DJANGO_SETTINGS_MODULE or any PYTEST_ variable: nothing configured.
    """
    script = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=environment(without=("DJANGO_", "PYTEST_")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def run_host_pytest(project, *args, settings="tests.settings", pythonpath=(PROJECT_ROOT,)):
    """pytest in `project` with only pytest-django and the files there. The apps come installed."""
    (project / "pytest.ini").write_text("[pytest]\n")
    env = environment(
        without=("DJANGO_", "PYTEST_"),
        PYTHONPATH=os.pathsep.join(map(str, pythonpath)),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # a host's minimal setup: no xdist, no schemathesis, ...
        DATABASE_URL=f"sqlite:///{project / 'host.sqlite3'}",
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pytest_django.plugin",
        f"--ds={settings}",
        "-c",
        str(project / "pytest.ini"),
        "--rootdir",
        str(project),
        "-p",
        "no:cacheprovider",
        "-q",
        "-rA",
        *args,
    ]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)


def production_env(tmp_path, **extra):
    """The environment a production deployment sets, with a throwaway SQLite database."""
    return environment(
        without=("DJANGO_", "DATABASE_URL"),
        **{
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CRYPTOGRAPHY_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,vectors.example.com",
            "DEBUG": "0",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
            **extra,
        },
    )


def wait_for(url, timeout=60):
    """GET `url` until it answers (a server starting up); gives up after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def serving(args, env, port):
    """`python <args>` serving the site on 127.0.0.1:`port`; yields its URL once the health check answers,
    and stops it on leaving."""
    server = subprocess.Popen(
        [sys.executable, *args], cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/api/v1/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=40)


@contextlib.contextmanager
def redis_server(directory):
    """Debian's redis-server on a free port of 127.0.0.1, without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (Debian's redis-server package; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([*args, "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url, deadline = f"redis://127.0.0.1:{port}/0", time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "redis-server did not start"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
