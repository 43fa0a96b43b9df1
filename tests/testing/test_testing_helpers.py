"""vectorstores.testing, the test helpers a host site uses: FakeOpenAI as a context manager,
create_credential, and the opt-in pytest plugin (run here in a pytest of its own, as a host would)."""

import importlib.metadata
import socket
from urllib.parse import urlsplit

import openai
import pytest
from django.core.exceptions import ValidationError
from openai import OpenAI

import vectorstores.testing
import vectorstores.testing.fake_openai
from credentials.models import Credential
from tests.conftest import API_ROOT, PROJECT_ROOT, TEST_API_KEY, client_for
from tests.hosts import modules_imported_by, run_host_pytest
from vectorstores.testing import FAKE_API_KEY, FakeOpenAI, create_credential

HOST_FIXTURE_TESTS = """\
from openai import OpenAI

from credentials.models import Credential
from vectorstores.testing import FAKE_API_KEY, FakeOpenAI


def test_fake_openai_is_the_session_server(fake_openai, fake_openai_server):
    assert fake_openai is fake_openai_server and isinstance(fake_openai, FakeOpenAI)
    fake_openai.create_vector_store(name="left behind")
    fake_openai.fail("GET", "/vector_stores", 500)


def test_each_test_gets_an_empty_fake(fake_openai, fake_openai_api_key):
    assert fake_openai.vector_stores == {} and fake_openai.requests == []
    assert fake_openai_api_key == FAKE_API_KEY
    with OpenAI(api_key=fake_openai_api_key, base_url=fake_openai.base_url, max_retries=0) as sdk:
        assert sdk.vector_stores.list().data == []  # the fault of the test before is gone too


def test_openai_credential_points_at_the_fake(openai_credential, fake_openai, fake_openai_api_key):
    stored = Credential.objects.get(pk=openai_credential.pk)
    assert stored.base_url == fake_openai.base_url and stored.api_key == fake_openai_api_key
    assert not stored.users.exists() and not stored.groups.exists()
"""


def port_of(base_url):
    return urlsplit(base_url).port


def port_is_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return False
    return True


# --- the package -------------------------------------------------------------------------------


@pytest.mark.subprocess
def test_importing_vectorstores_testing_needs_neither_pytest_nor_django_settings():
    loaded = modules_imported_by("vectorstores.testing")  # a fresh interpreter: no settings, no pytest
    assert "vectorstores.testing.fake_openai" in loaded
    assert sorted(name for name in loaded if name.split(".")[0] in ("pytest", "_pytest", "pytest_django")) == []
    assert "credentials.models" not in loaded
    # What it offers, under the names documented; the module path the project used keeps working.
    assert set(vectorstores.testing.__all__) == {
        "FAKE_API_KEY",
        "FakeOpenAI",
        "FakeOpenAIHandler",
        "RecordedRequest",
        "create_credential",
    }
    assert vectorstores.testing.fake_openai.FakeOpenAI is FakeOpenAI


def test_the_plugin_is_opt_in_and_type_hints_ship():
    plugins = [
        entry
        for entry in importlib.metadata.entry_points(group="pytest11")
        if entry.value.split(".")[0] in ("vectorstores", "credentials")
    ]
    assert plugins == []
    assert (PROJECT_ROOT / "vectorstores" / "py.typed").is_file()


# --- FakeOpenAI as a context manager -------------------------------------------------------------


def test_the_context_manager_serves_on_a_free_loopback_port_then_closes_it():
    with FakeOpenAI() as fake:
        assert fake.running
        url = urlsplit(fake.base_url)
        assert (url.scheme, url.hostname, url.path) == ("http", "127.0.0.1", "/v1") and url.port
        assert port_is_open(url.port)
        fake.create_vector_store(name="Handbook")
        with OpenAI(api_key=FAKE_API_KEY, base_url=fake.base_url, max_retries=0) as sdk:
            assert [store.name for store in sdk.vector_stores.list()] == ["Handbook"]
    assert not fake.running
    assert not port_is_open(url.port)
    with pytest.raises(RuntimeError, match="not started"):
        _ = fake.base_url


def test_the_context_manager_stops_the_fake_when_the_block_raises():
    with pytest.raises(ZeroDivisionError):
        with FakeOpenAI(api_keys=["sk-test-some-other-key-0123"]) as fake:
            port = port_of(fake.base_url)
            1 / 0  # noqa: B018
    assert not fake.running and not port_is_open(port)


def test_a_running_fake_cannot_be_started_again():
    with FakeOpenAI() as fake:
        port = port_of(fake.base_url)
        with pytest.raises(RuntimeError, match="already started"):
            fake.start()
        assert port_of(fake.base_url) == port and port_is_open(port)
    fake.stop()  # stopping a stopped fake does nothing


def test_the_fake_accepts_only_its_keys():
    with FakeOpenAI(api_keys=["sk-test-the-only-key-0123456789"]) as fake:
        with OpenAI(api_key=FAKE_API_KEY, base_url=fake.base_url, max_retries=0) as sdk:
            with pytest.raises(openai.AuthenticationError):
                sdk.vector_stores.list()


# --- create_credential --------------------------------------------------------------------------


def test_create_credential_makes_a_credential_the_api_can_use(db, fake_openai, user, other_user):
    credential = create_credential(fake_openai, name="Handbook key", users=[user])

    stored = Credential.objects.get(pk=credential.pk)
    assert (stored.name, stored.base_url, stored.api_key) == ("Handbook key", fake_openai.base_url, TEST_API_KEY)
    assert list(stored.users.all()) == [user] and not stored.groups.exists()
    assert stored.access_mode == "owned"  # the model's default: the stores it makes are the user's

    store = client_for(user).post(f"{API_ROOT}?credential={credential.pk}", {"name": "Handbook"}, format="json").json()
    response = client_for(user).get(API_ROOT, {"credential": credential.pk})
    assert response.status_code == 200
    assert [(item["id"], item["name"]) for item in response.json()] == [(store["id"], "Handbook")]
    assert fake_openai.requests_to("GET", "/vector_stores")[0].headers["authorization"] == f"Bearer {TEST_API_KEY}"
    # Nobody else may use it.
    assert client_for(other_user).get(API_ROOT, {"credential": credential.pk}).status_code == 404


def test_create_credential_for_groups_with_more_fields(db, fake_openai, user, other_user, group):
    user.groups.add(group)
    credential = create_credential(fake_openai, groups=[group], organization="org-test", project="proj_test")

    assert credential.name == "Fake OpenAI" and not credential.users.exists()
    assert list(credential.groups.all()) == [group]
    assert client_for(user).get(API_ROOT, {"credential": credential.pk}).status_code == 200
    assert fake_openai.requests[-1].headers["openai-organization"] == "org-test"
    assert fake_openai.requests[-1].headers["openai-project"] == "proj_test"
    assert client_for(other_user).get(API_ROOT, {"credential": credential.pk}).status_code == 404


@pytest.mark.django_db
def test_create_credential_stores_a_key_the_fake_accepts_by_default():
    with FakeOpenAI() as fake:
        assert create_credential(fake).api_key == FAKE_API_KEY
    with FakeOpenAI(api_keys=["sk-test-b-key-0123456789", "sk-test-a-key-0123456789"]) as fake:
        assert create_credential(fake).api_key == "sk-test-a-key-0123456789"
        # A key the fake refuses is stored as given: the way to test a rejected key.
        assert create_credential(fake, api_key="sk-test-refused-0123456789").api_key == "sk-test-refused-0123456789"
    with FakeOpenAI(api_keys=[]) as fake:
        with pytest.raises(ValueError, match="accepts no API key"):
            create_credential(fake)


@pytest.mark.django_db
def test_create_credential_needs_a_started_fake_and_a_site_that_allows_loopback(settings):
    with pytest.raises(RuntimeError, match="not started"):
        create_credential(FakeOpenAI())
    settings.OPENAI_CREDENTIALS = {"ALLOWED_BASE_URL_HOSTS": ["api.openai.com"]}
    with FakeOpenAI() as fake:
        with pytest.raises(ValidationError) as raised:
            create_credential(fake)
    assert "base_url" in raised.value.message_dict
    assert not Credential.objects.exists()


# --- the pytest plugin, in a host project of its own -------------------------------------------


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_plugins_fixtures_in_a_host_project(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["vectorstores.testing.pytest_plugin"]\n')
    (tmp_path / "test_fixtures.py").write_text(HOST_FIXTURE_TESTS)
    result = run_host_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout


@pytest.mark.subprocess
@pytest.mark.slow
def test_a_host_test_without_the_plugin_has_no_fake_fixtures(tmp_path):
    (tmp_path / "conftest.py").write_text("")
    (tmp_path / "test_host.py").write_text("def test_it(fake_openai):\n    pass\n")
    result = run_host_pytest(tmp_path)
    assert result.returncode != 0 and "fixture 'fake_openai' not found" in result.stdout, result.stdout
