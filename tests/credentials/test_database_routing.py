"""The credential commands work on the database the site's routers write credentials to: a host site may
route them away from `default` (or have no usable `default` at all)."""

import io

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils.connection import ConnectionDoesNotExist

from credentials.management.commands import create_credential
from credentials.models import Credential

pytestmark = pytest.mark.django_db


class CredentialsElsewhere:
    """Writes of credentials go to the database `alias` (the class attribute), everything else as usual."""

    alias = "default"

    def db_for_write(self, model, **hints):
        return self.alias if model is Credential else None


@pytest.fixture
def routed(settings):
    settings.DATABASE_ROUTERS = [f"{__name__}.CredentialsElsewhere"]
    return CredentialsElsewhere


def test_create_credential_saves_in_one_transaction_of_the_routed_database(routed, monkeypatch):
    used = []
    real_atomic = transaction.atomic

    def recording_atomic(using=None, *args, **kwargs):
        used.append(using)
        return real_atomic(using, *args, **kwargs)

    monkeypatch.setattr(create_credential.transaction, "atomic", recording_atomic)
    out = io.StringIO()
    call_command(
        "create_credential", "--name", "Routed", stdin=io.StringIO("sk-test-routed-key-0000000000\n"), stdout=out
    )
    assert Credential.objects.filter(name="Routed").exists()
    # Every transaction names its database (the command's is the router's answer); None would be `default`.
    assert used and None not in used


def test_rotate_credentials_key_works_on_the_routed_database_unless_told(routed):
    routed.alias = "credentials_db"  # not configured here: using it fails, which shows it was used
    try:
        with pytest.raises(ConnectionDoesNotExist, match="credentials_db"):
            call_command("rotate_credentials_key", "--dry-run", stdout=io.StringIO())
        call_command("rotate_credentials_key", "--dry-run", "--database", "default", stdout=io.StringIO())
    finally:
        routed.alias = "default"
