"""`manage.py create_credential`: the key comes from stdin (or OPENAI_API_KEY at a terminal), never argv."""

import io
import sqlite3
import sys
import uuid

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection

from credentials.models import Credential
from tests.credentials.credentials_crypto import raw_column
from tests.hosts import environment, manage

pytestmark = pytest.mark.django_db

API_KEY = "sk-cmd-" + "c0mm4nd" * 4 + "e5f6"


class TerminalInput(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def stdin(monkeypatch):
    """set(text or stream): what the command finds on sys.stdin, as under `manage.py`."""

    def set_stdin(value):
        monkeypatch.setattr(sys, "stdin", value if isinstance(value, io.StringIO) else io.StringIO(value))

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    set_stdin(f"{API_KEY}\n")
    return set_stdin


@pytest.fixture
def run(stdin):
    """run(*args): call the command; its stdout."""

    def run_command(*args):
        out = io.StringIO()
        call_command("create_credential", *args, stdout=out, stderr=io.StringIO())
        return out.getvalue()

    return run_command


def created(stdout):
    """The credential whose id is the last line of `stdout`."""
    return Credential.objects.get(pk=uuid.UUID(stdout.strip().splitlines()[-1]))


# --- reading the key -------------------------------------------------------------------


def test_reads_the_key_from_stdin_and_prints_the_id_last(run):
    out = run("--name", "From stdin")

    credential = created(out)
    assert credential.name == "From stdin"
    assert credential.api_key == API_KEY
    assert (credential.base_url, credential.organization, credential.project) == ("", "", "")
    assert not credential.users.exists() and not credential.groups.exists()
    assert credential.access_mode == "owned"


def test_stores_the_key_encrypted(run):
    credential = created(run("--name", "Encrypted"))

    raw = raw_column(credential.pk)
    assert raw
    assert API_KEY.encode() not in raw
    assert API_KEY[-8:].encode() not in raw


def test_call_command_accepts_stdin(db):
    """call_command(..., stdin=...) is how Python code (and tests) hand the command its input."""
    out = io.StringIO()

    call_command("create_credential", "--name", "Given stdin", stdin=io.StringIO(f"{API_KEY}\n"), stdout=out)

    assert created(out.getvalue()).api_key == API_KEY


def test_applies_every_option(run, user, other_user, settings):
    settings.OPENAI_CREDENTIALS = {"ALLOWED_BASE_URL_HOSTS": [".openai.azure.com"]}
    analysts, partners = Group.objects.create(name="analysts"), Group.objects.create(name="partners")
    Group.objects.create(name="bystanders")

    credential = created(
        run(
            "--name",
            "Everything",
            "--base-url",
            "https://example.openai.azure.com/openai/v1",
            "--organization",
            "org-123",
            "--project",
            "proj-456",
            "--user",
            "alice",
            "--user",
            "mallory",
            "--group",
            "analysts",
            "--group",
            "partners",
            "--access-mode",
            "shared",
        )
    )

    assert credential.base_url == "https://example.openai.azure.com/openai/v1"
    assert (credential.organization, credential.project) == ("org-123", "proj-456")
    assert set(credential.users.all()) == {user, other_user}
    assert set(credential.groups.all()) == {analysts, partners}
    assert credential.access_mode == "shared"


def test_the_key_never_appears_in_stdout(run, user):
    out = run("--name", "Quiet", "--user", "alice")

    assert API_KEY not in out
    assert API_KEY[-8:] not in out
    assert out.strip() == str(created(out).pk)


def test_at_a_terminal_reads_openai_api_key(run, stdin, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", f" {API_KEY} ")
    stdin(TerminalInput("sk-typed-at-the-terminal-xxxx\n"))

    assert created(run("--name", "From env")).api_key == API_KEY


def test_piped_stdin_wins_over_openai_api_key(run, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-xxxx")

    assert created(run("--name", "Piped")).api_key == API_KEY


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["", "\n", "   \n"], ids=["nothing", "empty-line", "blank-line"])
def test_empty_key_on_stdin_is_refused(run, stdin, given):
    stdin(given)

    with pytest.raises(CommandError, match="No API key on standard input"):
        run("--name", "Empty")
    assert not Credential.objects.exists()


def test_terminal_without_openai_api_key_is_refused(run, stdin):
    stdin(TerminalInput(""))

    with pytest.raises(CommandError, match="No API key on OPENAI_API_KEY"):
        run("--name", "Empty")
    assert not Credential.objects.exists()


@pytest.mark.parametrize("option", ["--organization", "--project"])
def test_a_header_value_that_is_not_visible_ascii_is_refused(run, option):
    with pytest.raises(CommandError, match="Visible ASCII characters only"):
        run("--name", "Bad header", option, "org\r\nX-Evil: 1")
    assert not Credential.objects.exists()


def test_unknown_user_is_refused_and_nothing_created(run, user):
    with pytest.raises(CommandError, match="No such user: nobody"):
        run("--name", "Unknown user", "--user", "alice", "--user", "nobody")
    assert not Credential.objects.exists()


def test_unknown_group_is_refused_and_nothing_created(run):
    Group.objects.create(name="analysts")

    with pytest.raises(CommandError, match="No such group: ghosts"):
        run("--name", "Unknown group", "--group", "analysts", "--group", "ghosts")
    assert not Credential.objects.exists()


def test_invalid_base_url_is_refused(run):
    with pytest.raises(CommandError, match="base_url") as error:
        run("--name", "Bad URL", "--base-url", "not a url")
    assert API_KEY not in str(error.value)
    assert not Credential.objects.exists()


@pytest.mark.parametrize(
    "base_url",
    [
        "https://attacker.example/v1",  # a host outside the allow-list
        "http://api.openai.com/v1",  # plain HTTP to a remote host
        "https://user:pass@api.openai.com/v1",
    ],
)
def test_a_base_url_the_site_does_not_send_keys_to_is_refused(run, base_url):
    with pytest.raises(CommandError, match="base_url") as error:
        run("--name", "Elsewhere", "--base-url", base_url)
    assert API_KEY not in str(error.value)
    assert not Credential.objects.exists()


def test_a_host_the_allow_list_names_is_accepted(run, settings):
    settings.OPENAI_CREDENTIALS = {"ALLOWED_BASE_URL_HOSTS": ["llm.internal.example"]}
    credential = created(run("--name", "Internal", "--base-url", "https://llm.internal.example/v1"))
    assert credential.endpoint == "https://llm.internal.example/v1"


def test_a_blank_base_url_means_openais_api(run):
    assert created(run("--name", "OpenAI")).endpoint == "https://api.openai.com/v1"


@pytest.mark.parametrize("key", ["encrypted:Z0FBQUFB", "sk-two words", "sk-tab\there"])
def test_a_key_that_is_not_one_printable_word_is_refused(run, stdin, key):
    stdin(key + "\n")
    with pytest.raises(CommandError, match="api_key"):
        run("--name", "Odd key")
    assert not Credential.objects.exists()


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.subprocess
@pytest.mark.slow
def test_real_process_reads_piped_stdin_and_prints_the_id_last(tmp_path):
    database = tmp_path / "db.sqlite3"
    env = environment(
        without=("DJANGO_", "OPENAI_API_KEY"),
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"sqlite:///{database}",
    )

    migrate = manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr
    result = manage("create_credential", "--name", "From a pipe", input=f"{API_KEY}\n", env=env)

    assert result.returncode == 0, result.stderr
    assert API_KEY not in result.stdout + result.stderr
    credential_id = uuid.UUID(result.stdout.strip().splitlines()[-1])
    with sqlite3.connect(database) as db:
        name, raw = db.execute(
            "SELECT name, api_key FROM credentials_credential WHERE id = ?", [credential_id.hex]
        ).fetchone()
    assert name == "From a pipe"
    assert API_KEY.encode() not in raw
    # The same CRYPTOGRAPHY_KEY (tests.settings) decrypts it here.
    assert Credential._meta.get_field("api_key").from_db_value(raw, None, connection) == API_KEY
