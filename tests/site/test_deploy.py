"""Production serving: `check --deploy`, the health endpoint, and granian + WhiteNoise for real."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.db import OperationalError

from tests.conftest import PROJECT_ROOT, free_port
from tests.hosts import manage, production_env, serving

HEADER_READ_TIMEOUT = 5  # seconds the production server gives a client to finish its headers


def start_server(env, *options):
    """`python -m config.serve` (`--check`: as `make serve` runs it first), for a setting that must stop it, or
    with `--check` one that must not: its exit status and stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "config.serve", *options],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stderr.strip()


@pytest.mark.subprocess
@pytest.mark.slow
def test_check_deploy_reports_no_warnings_with_production_settings(tmp_path):
    env = production_env(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")  # not reached: the check reads settings
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.subprocess
@pytest.mark.slow
def test_check_deploy_warns_that_without_redis_each_process_counts_alone(tmp_path):
    result = manage("check", "--deploy", env=production_env(tmp_path))
    assert "vectorstores.W002" in result.stdout + result.stderr


@pytest.mark.subprocess
@pytest.mark.slow
def test_production_defaults_can_be_switched_off_by_the_environment(tmp_path):
    env = production_env(tmp_path, SECURE_HSTS_SECONDS="0", SECURE_SSL_REDIRECT="0")
    result = manage("check", "--deploy", env=env)
    assert "security.W004" in result.stdout + result.stderr  # HSTS off is reported
    assert "security.W008" in result.stdout + result.stderr  # so is the missing redirect


@pytest.mark.subprocess
@pytest.mark.parametrize(("threads", "long_calls"), [(None, 6), ("5", 3), ("2", 1), ("1", 1)])
def test_long_calls_leave_two_of_a_processs_threads_to_other_calls(tmp_path, threads, long_calls):
    env = production_env(tmp_path, **({"SERVER_THREADS": threads} if threads else {}))
    script = "from vectorstores.conf import app_settings; print(app_settings.MAX_LONG_CALLS_PER_PROCESS)"
    result = manage("shell", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(long_calls)


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("name", "value"), [("NUM_PROXIES", "-1"), ("SECURE_HSTS_SECONDS", "a year"), ("CONN_MAX_AGE", "1.5")]
)
def test_a_count_in_the_environment_that_is_none_stops_the_site_naming_it(tmp_path, name, value):
    """A negative NUM_PROXIES made every anonymous call a 500 (DRF indexes X-Forwarded-For with it)."""
    result = manage("check", env=production_env(tmp_path, **{name: value}))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be a whole number of 0 or more" in result.stderr


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("API_THROTTLE_USER", "lots", "must be a rate such as 600/minute"),
        ("API_THROTTLE_ANON", "5/fortnight", "must be a rate such as 600/minute"),
        ("LOG_LEVEL", "LOUD", "must be one of "),
        ("DEBUG", "maybe", "must be 1 or 0"),
        ("SECRET_KEY", " ", "is set but empty"),
        ("DATABASE_URL", "", "must be a database URL"),
        ("DATABASE_URL", "postgres//alice:hunter2@db.example/site", "must be a database URL"),
        ("REDIS_URL", "cache.example:6379", "must be a URL beginning redis://"),
        ("REDIS_URL", "redis:cache.example", "must be a URL beginning redis://"),
    ],
)
def test_a_setting_in_the_environment_that_is_none_stops_the_site_naming_it(tmp_path, name, value, message):
    """A bad throttle rate made every API call a 500; a bad log level failed without its name; a DEBUG of
    `maybe` meant off without a word."""
    result = manage("check", env=production_env(tmp_path, **{name: value}))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} {message}" in result.stderr
    assert "hunter2" not in result.stderr  # a URL's password is never echoed


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WEB_CONCURRENCY", "two", "must be a whole number from 1 to 256"),
        ("WEB_CONCURRENCY", "0", "must be a whole number from 1 to 256"),
        ("WEB_CONCURRENCY", "99999999999999999999", "must be a whole number from 1 to 256"),
        ("SERVER_THREADS", "-4", "must be a whole number from 1 to 1024"),
        ("GRACEFUL_TIMEOUT", "30s", "must be a whole number from 1 to 86400"),
        ("GRACEFUL_TIMEOUT", "0", "must be a whole number from 1 to 86400"),  # granian: no limit at all
        ("GRACEFUL_TIMEOUT", "99999999999999999999", "must be a whole number from 1 to 86400"),
        ("HEADER_READ_TIMEOUT", "0", "must be a number of seconds from 0.001 to 3600"),
        ("HEADER_READ_TIMEOUT", "0.0001", "must be a number of seconds from 0.001 to 3600"),
        *(
            ("BIND", bind, "must be an IP address and port (such as 127.0.0.1:8000 or [::1]:8000)")
            for bind in [
                "127.0.0.1",
                "127.0.0.1:99999",
                "localhost:8000",
                "[:::::]:8000",
                "::1:8000",
                "[]:8000",
                "[fe80::1%lo]:8000",
            ]
        ),
    ],
)
def test_a_bad_server_setting_stops_the_production_server_naming_it(tmp_path, name, value, message):
    """They were read with a bare int(): a traceback without the variable's name, or a server of no workers."""
    assert start_server(production_env(tmp_path, **{name: value})) == (
        1,
        f"config.serve: {name} {message}, not {value!r}.",
    )


@pytest.mark.subprocess
def test_a_bad_site_setting_stops_the_production_server_in_one_line(tmp_path):
    """Read only by the workers, it crashed each with a traceback until granian gave up on them."""
    env = production_env(tmp_path, DEBUG="maybe", BIND=f"127.0.0.1:{free_port()}")
    assert start_server(env) == (1, "config.serve: DEBUG must be 1 or 0 (or true/false, yes/no, on/off), not 'maybe'.")


@pytest.mark.subprocess
def test_make_serve_checks_the_settings_and_the_address_before_anything_else(tmp_path):
    """`make serve` runs `--check` first, so a bad value stops it before migrating, and a good one passes."""
    assert start_server(production_env(tmp_path, BIND=f"127.0.0.1:{free_port()}"), "--check") == (0, "")
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    serve = makefile[makefile.index("\nserve:") :].split("\n\n")[0]
    assert serve.index("config.serve --check") < serve.index("migrate")


@pytest.mark.subprocess
def test_an_address_in_use_stops_the_production_server_in_one_line(tmp_path):
    """granian answered it with a Rust backtrace (and shared a port another granian held)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        answer = start_server(production_env(tmp_path, BIND=f"127.0.0.1:{port}"))
    assert answer == (1, f"config.serve: BIND: cannot listen on 127.0.0.1:{port} (Address already in use).")


@pytest.mark.parametrize(
    ("bind", "address"),
    [("0.0.0.0:8080", ("0.0.0.0", 8080)), ("[::1]:9000", ("::1", 9000)), (":8001", ("127.0.0.1", 8001))],
)
def test_the_production_server_listens_where_bind_says(monkeypatch, bind, address):
    from config.serve import server

    monkeypatch.setenv("BIND", bind)
    monkeypatch.setenv("HEADER_READ_TIMEOUT", "2.5")
    configured = server()
    assert (configured.bind_addr, configured.bind_port) == address
    assert configured.http1_settings.header_read_timeout == 2500


@pytest.mark.subprocess
def test_every_log_level_name_python_knows_is_taken(tmp_path):
    result = manage("check", env=production_env(tmp_path, LOG_LEVEL="warn"))
    assert result.returncode == 0, result.stderr


@pytest.mark.subprocess
@pytest.mark.parametrize("command", [["check", "--deploy"], ["migrate", "--noinput"], ["runserver", "--noreload"]])
def test_production_without_encryption_keys_refuses_to_start(tmp_path, command):
    env = production_env(tmp_path)
    del env["CRYPTOGRAPHY_KEY"]
    result = manage(*command, env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CRYPTOGRAPHY_KEYS" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.subprocess
def test_production_takes_a_list_of_keys_newest_first(tmp_path):
    env = production_env(tmp_path, CRYPTOGRAPHY_KEYS="new-key-of-this-deploy,old-key-of-the-last")
    del env["CRYPTOGRAPHY_KEY"]
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.CRYPTOGRAPHY_KEYS)"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "['new-key-of-this-deploy', 'old-key-of-the-last']", result.stderr


def test_local_secrets_are_private_from_the_first_byte(tmp_path, monkeypatch):
    from config import settings as site_settings

    monkeypatch.setattr(site_settings, "DEV_SECRETS_FILE", tmp_path / ".dev-secrets.json")
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: pytest.fail("the file was chmodded after creation"))
    monkeypatch.setattr(Path, "chmod", lambda *args, **kwargs: pytest.fail("the file was chmodded after creation"))
    old_umask = os.umask(0)  # whatever the umask, the file is never readable by others
    try:
        secret = site_settings.dev_secret("CRYPTOGRAPHY_KEY")
    finally:
        os.umask(old_umask)

    assert (tmp_path / ".dev-secrets.json").stat().st_mode & 0o777 == 0o600
    assert site_settings.dev_secret("CRYPTOGRAPHY_KEY") == secret


@pytest.mark.django_db
def test_health_is_unauthenticated_and_does_not_touch_openai(client, fake_openai):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert fake_openai.requests == []


@pytest.mark.django_db
def test_health_is_503_when_the_database_is_down(client):
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")):
        response = client.get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


@pytest.mark.django_db
@pytest.mark.usefixtures("cache_down")
def test_health_is_503_when_the_cache_is_down(client):
    """The API's throttles count in the cache (Redis with REDIS_URL): without it every call is a 503."""
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "detail": "The cache cannot be reached."}


def test_a_redis_that_never_answers_holds_a_call_two_seconds_at_most(tmp_path):
    """REDIS_URL names a server that takes connections and never answers: the site gives up on it after its
    Redis timeout (2 s) and answers 503, rather than holding the call for as long as Redis hangs."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = production_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        script = (
            "import time; from django.test import Client; started = time.monotonic(); "
            "answer = Client().get('/api/v1/health', HTTP_HOST='127.0.0.1'); "
            "print(answer.status_code, time.monotonic() - started)"
        )
        result = manage("shell", "-c", script, env=env, timeout=60)
    status, seconds = result.stdout.split()[-2:]
    assert status == "503", result.stderr
    assert 1.9 < float(seconds) < 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/health", 200),
        ("/api/v1/health/", 200),  # load balancers probe over plain HTTP
        ("/api/v1/openai-assistants-vector-store", 301),
        ("/admin/", 301),
    ],
)
def test_plain_http_is_redirected_to_https_except_the_health_check(client, settings, path, status):
    settings.SECURE_SSL_REDIRECT = True  # production's default (tests/settings.py turns it off)
    response = client.get(path)
    assert response.status_code == status
    if status == 301:
        assert response["Location"] == f"https://testserver{path}"


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    """The site as `make serve` runs it (config/serve.py), on a free port of 127.0.0.1."""
    tmp_path = tmp_path_factory.mktemp("production")
    port = free_port()
    env = production_env(
        tmp_path,
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        SERVER_THREADS="4",
        SECURE_SSL_REDIRECT="0",
        HEADER_READ_TIMEOUT=str(HEADER_READ_TIMEOUT),
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0
    assert manage("collectstatic", "--noinput", env=env).returncode == 0
    with serving(["-m", "config.serve"], env, port) as url:
        yield url


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_production_server_serves_the_site_and_whitenoise_its_static_files(production_server):
    health = urllib.request.urlopen(f"{production_server}/api/v1/health", timeout=5)
    assert json.load(health) == {"status": "ok"}
    css = urllib.request.urlopen(f"{production_server}/static/admin/css/base.css", timeout=5)
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    swagger = urllib.request.urlopen(
        f"{production_server}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css", timeout=5
    )
    assert swagger.status == 200


@pytest.mark.subprocess
@pytest.mark.slow
def test_two_hundred_clients_that_never_finish_their_headers_do_not_stop_the_site(production_server):
    """Each connection sends half of its headers and then nothing: none holds a worker thread."""
    address = urlsplit(production_server)
    stalled = []
    try:
        for _ in range(200):
            connection = socket.create_connection((address.hostname, address.port), timeout=5)
            connection.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            stalled.append(connection)
        started = time.monotonic()
        health = urllib.request.urlopen(f"{production_server}/api/v1/health", timeout=HEADER_READ_TIMEOUT * 2)
        elapsed = time.monotonic() - started
        assert health.status == 200
        # A server whose threads the stalled clients held would answer only once HEADER_READ_TIMEOUT
        # freed them; half of it leaves room for a loaded machine.
        assert elapsed < HEADER_READ_TIMEOUT / 2, f"the health check took {elapsed:.2f} s"
    finally:
        for connection in stalled:
            connection.close()


def test_process_environment_variables_never_reach_request_meta(monkeypatch):
    from config.wsgi import DropProcessEnvironment

    monkeypatch.setenv("DATABASE_URL", "postgres://app:secret@db/vectors")
    seen = {}
    app = DropProcessEnvironment(lambda environ, start_response: seen.update(environ) or [b""])
    app(
        {"DATABASE_URL": "postgres://app:secret@db/vectors", "PATH_INFO": "/", "HTTP_X_A": "1", "wsgi.input": None},
        None,
    )
    assert "DATABASE_URL" not in seen
    assert {"PATH_INFO", "HTTP_X_A", "wsgi.input"} <= set(seen)


@pytest.mark.subprocess
@pytest.mark.slow
def test_make_runs_server_serves_static_files_with_debug_off(tmp_path):
    """`make run` is runserver: without collectstatic and with DEBUG=0, admin, console and docs still work."""
    port = free_port()
    env = production_env(tmp_path, SECURE_SSL_REDIRECT="0", STATIC_ROOT=str(tmp_path / "never-collected"))
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with serving(["manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], env, port) as url:
        for path in (
            "/static/admin/css/base.css",
            "/static/vectorstores/console.js",
            "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        ):
            assert urllib.request.urlopen(f"{url}{path}", timeout=10).status == 200, path


def call_site(content_type):
    """The standalone site's WSGI application, called with a request of this Content-Type: (status, body)."""
    from wsgiref.util import setup_testing_defaults

    from config.wsgi import application

    environ = {
        "PATH_INFO": "/api/v1/openai-assistants-vector-store",
        "QUERY_STRING": "credential=x",
        "CONTENT_TYPE": content_type,
        "HTTP_HOST": "testserver",
    }
    setup_testing_defaults(environ)
    statuses = []
    body = b"".join(application(environ, lambda status, headers: statuses.append(status)))
    return statuses[0], body


@pytest.mark.parametrize(
    "content_type",
    [
        # codecs that are no text encoding, or that read ASCII as something else: Django would raise (a 500)
        *(f"application/json; charset={charset}" for charset in ["rot13", "bz2_codec", "hex_codec", "undefined"]),
        *(f"application/json; charset={charset}" for charset in ["idna", "punycode", "utf-7", "raw_unicode_escape"]),
        "application/json; x*=bogus''%41",  # an RFC 2231 parameter in an unknown encoding
    ],
)
def test_the_site_answers_a_content_type_django_cannot_read_with_415(content_type):
    """Django itself would raise building such a request (a 500); the site's WSGI application answers first."""
    status, body = call_site(content_type)
    assert status == "415 Unsupported Media Type"
    assert json.loads(body)["code"] == "unsupported_media_type"


@pytest.mark.django_db
@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "latin-1", "us-ascii", "shift_jis", "no-such-charset"])
def test_charsets_django_can_read_reach_the_api(charset):
    status, body = call_site(f"application/json; charset={charset}")
    assert (status, json.loads(body)["code"]) == ("401 Unauthorized", "not_authenticated")
