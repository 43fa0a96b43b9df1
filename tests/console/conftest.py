"""Helpers and fixtures of the console's tests (every module, and the browser tests below): the console's
URLs, the credential's admin history, staff users with some of the credential permissions, and a store
("Docs", with metadata and an expiry) holding two files, one of them failed; for the ownership tests, a
credential in owned mode, two of its staff users and a manager of all its stores."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission

from tests.conftest import TEST_API_KEY, admin_url
from vectorstores.testing import create_credential


def console_url(name, credential, *ids):
    """The URL of the console's page `name` (vector_stores, vector_store, vector_store_file, ...) for these ids."""
    return admin_url(name, credential.pk, *[value for value in ids if value])


def log_messages(credential):
    """The credential's admin history, oldest first."""
    return [entry.change_message for entry in LogEntry.objects.filter(object_id=str(credential.pk)).order_by("id")]


def staff(django_user_model, username, *codenames, credential=None):
    """A staff user with these credential permissions, and one of `credential`'s users when given."""
    user = django_user_model.objects.create_user(username, password="staff-password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="credentials", codename__in=codenames))
    if credential is not None:
        credential.users.add(user)
    return user


@pytest.fixture
def store(fake_openai):
    """Overrides conftest's: a store with metadata and an expiry, which the console's pages show."""
    return fake_openai.create_vector_store(
        name="Docs", metadata={"team": "support"}, expires_after={"anchor": "last_active_at", "days": 7}
    )


@pytest.fixture
def files(fake_openai, store):
    """guide.txt (completed) and broken.pdf (failed), in `store`."""
    guide = fake_openai.create_file("guide.txt", b"How to reset your password: open the settings page.")
    fake_openai.attach_file(store["id"], guide["id"])
    broken = fake_openai.create_file("broken.pdf", b"%PDF-1.4 not really")
    fake_openai.attach_file(store["id"], broken["id"], status="failed")
    return guide, broken


@pytest.fixture
def editor(django_user_model, credential):
    return staff(django_user_model, "editor", "view_credential", "change_credential", credential=credential)


@pytest.fixture
def viewer(django_user_model, credential):
    return staff(django_user_model, "viewer", "view_credential", credential=credential)


def set_attributes(fake_openai, store_id, file_id, attributes):
    """Give a file of a store these attributes in the fake OpenAI (as if set earlier)."""
    with fake_openai.lock:
        fake_openai.vector_store_files[(store_id, file_id)]["attributes"] = dict(attributes)


# --- ownership: a credential in owned mode and its users -----------------------------------------------------


@pytest.fixture
def owned_credential(db, fake_openai):
    """A credential in owned mode: each of its users reaches only their stores (and their groups')."""
    return create_credential(fake_openai, name="Team key", api_key=TEST_API_KEY, access_mode="owned")


@pytest.fixture
def ann(django_user_model, owned_credential):
    return staff(django_user_model, "ann", "view_credential", "change_credential", credential=owned_credential)


@pytest.fixture
def ben(django_user_model, owned_credential):
    return staff(django_user_model, "ben", "view_credential", "change_credential", credential=owned_credential)


def grant_manage_all_stores(user):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="vectorstores", codename="manage_all_stores")
    )


@pytest.fixture
def manager(django_user_model, owned_credential):
    """A staff user of the credential who may manage every store (the manage_all_stores permission)."""
    user = staff(django_user_model, "manager", "view_credential", "change_credential", credential=owned_credential)
    grant_manage_all_stores(user)
    return user
