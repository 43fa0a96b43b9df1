import os
import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import models, router, transaction
from django.db.models import ExpressionWrapper, F

from credentials.encryption import Undecryptable, current_keyring, newest_keyring
from credentials.models import Credential

DEFAULT_OLD_KEY_ENV = "OLD_CRYPTOGRAPHY_KEY"
OLD_KEY_SETTING = "CRYPTOGRAPHY_OLD_KEY"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential under the newest key of CRYPTOGRAPHY_KEYS, in one transaction: "
        "values stored under an older key of the list, and values in version 0.1's formats. To rotate, deploy "
        "with CRYPTOGRAPHY_KEYS=[new, old], run this, then drop the old key. An old key that is not in the list "
        f"can also come from the {DEFAULT_OLD_KEY_ENV} environment variable (or the variable named by "
        f"--old-key-env, or the {OLD_KEY_SETTING} setting), never from the command line. Credentials already "
        "under the newest key are left alone, so running it twice is harmless."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--old-key-env",
            metavar="NAME",
            help=f"The environment variable that holds the old key (default {DEFAULT_OLD_KEY_ENV}). "
            "Its name, not the key.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Do everything, then roll back: nothing changes.")
        parser.add_argument(
            "--database", help="The database to work on (default: the one the site's routers write credentials to)."
        )

    def handle(self, *args, old_key_env, dry_run, database, **options):
        database = database or router.db_for_write(Credential)
        old_key = self._old_key(old_key_env)
        # Every key a stored value may be under: the site's own, then the old one named outside the list.
        readers = current_keyring(also=[old_key] if old_key is not None else [])

        credentials = Credential.objects.using(database)
        with transaction.atomic(using=database):
            rows = list(_stored_values(credentials.select_for_update()))
            already, rotate, unreadable = [], {}, []
            for pk, stored in rows:
                try:
                    reading = readers.read(stored)
                except Undecryptable:
                    unreadable.append(pk)
                    continue
                if reading.stale:
                    rotate[pk] = reading.text
                else:
                    already.append(pk)
            if unreadable:
                if old_key is None:
                    raise CommandError(
                        f"{len(unreadable)} of {len(rows)} credentials cannot be decrypted with the keys of "
                        "CRYPTOGRAPHY_KEYS: "
                        f"{_ids(unreadable)}. Nothing was changed. Add the key they were encrypted with to "
                        f"CRYPTOGRAPHY_KEYS (after the new one) or set the {DEFAULT_OLD_KEY_ENV} environment "
                        f"variable to it (or name another variable with --old-key-env, or set {OLD_KEY_SETTING}), "
                        "or enter those keys again in admin."
                    )
                raise CommandError(
                    f"{len(unreadable)} of {len(rows)} credentials cannot be decrypted with the new or the old key: "
                    f"{_ids(unreadable)}. Nothing was changed. Check the old key, or enter those keys again in admin."
                )

            for pk, api_key in rotate.items():
                # The field encrypts with the current keys, exactly as any save does.
                credentials.filter(pk=pk).update(api_key=api_key)

            failed = []  # the rows just rewritten (the others were just read under the newest key)
            newest = newest_keyring()
            for pk, stored in _stored_values(credentials.filter(pk__in=rotate)):
                try:
                    reading = newest.read(stored)
                except Undecryptable:
                    failed.append(pk)
                    continue
                if reading.stale or reading.text != rotate[pk]:
                    failed.append(pk)
            if failed:
                raise CommandError(
                    f"After re-encryption {len(failed)} credentials do not decrypt with the new key: {_ids(failed)}. "
                    "Rolled back: nothing was changed."
                )
            if dry_run:
                transaction.set_rollback(True, using=database)

        if options["verbosity"] >= 2:
            for pk in rotate:
                self.stdout.write(f"{'Would re-encrypt' if dry_run else 'Re-encrypted'} credential {pk}")
        summary = f"{len(rotate)} re-encrypted, {len(already)} already on the new key."
        if dry_run:
            self.stdout.write(f"Dry run, rolled back: {summary} Nothing was changed.")
        else:
            self.stdout.write(self.style.SUCCESS(summary))

    @staticmethod
    def _old_key(env_name):
        """The old key, or None when none is configured (enough when every row decrypts with the configured keys)."""
        if env_name is not None:
            if not ENV_NAME.match(env_name):
                # Not echoed: it may be the key itself, typed where its variable's name belongs.
                raise CommandError(
                    "--old-key-env takes the name of an environment variable (letters, digits, _), not a key."
                )
            key = os.environ.get(env_name)
            if not key:
                raise CommandError(f"The environment variable {env_name} (named by --old-key-env) is not set or empty.")
            return key
        return os.environ.get(DEFAULT_OLD_KEY_ENV) or getattr(settings, OLD_KEY_SETTING, None) or None


def _stored_values(queryset):
    """(pk, the api_key column's bytes) for each row, as stored: bypassing the field's decryption."""
    stored = ExpressionWrapper(F("api_key"), output_field=models.BinaryField())
    for pk, value in queryset.order_by("pk").annotate(stored_api_key=stored).values_list("pk", "stored_api_key"):
        yield pk, bytes(value)  # memoryview from psycopg2, bytes from psycopg 3 and SQLite


def _ids(pks):
    return ", ".join(str(pk) for pk in pks)
