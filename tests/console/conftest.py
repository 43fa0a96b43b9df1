"""Helpers and fixtures of the console's tests (both modules, and the browser tests below): the console's
URLs, the credential's admin history, staff users with some of the credential permissions, and a store
("Docs", with metadata and an expiry) holding two files, one of them failed."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission

from tests.conftest import admin_url


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
