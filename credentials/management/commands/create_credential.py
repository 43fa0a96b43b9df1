import os
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import router, transaction

from credentials.fields import validate_typed_api_key
from credentials.models import AccessMode, Credential


class Command(BaseCommand):
    # call_command(..., stdin=...) hands in the key's source, as for Django's createsuperuser.
    stealth_options = ("stdin",)
    help = (
        "Create an OpenAI credential. The API key is read from standard input (or from OPENAI_API_KEY "
        "when standard input is a terminal), never from the command line. Prints the new credential's id last."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--base-url",
            default="",
            help=(
                "Blank for OpenAI; set for Azure or a compatible server whose host "
                "OPENAI_CREDENTIALS['ALLOWED_BASE_URL_HOSTS'] allows."
            ),
        )
        parser.add_argument("--organization", default="")
        parser.add_argument("--project", default="")
        parser.add_argument(
            "--user",
            action="append",
            default=[],
            dest="users",
            metavar="USERNAME",
            help="A user who may use the credential (repeatable).",
        )
        parser.add_argument(
            "--group",
            action="append",
            default=[],
            dest="groups",
            metavar="NAME",
            help="A group whose members may use the credential (repeatable).",
        )
        parser.add_argument(
            "--access-mode",
            choices=AccessMode.values,
            default=AccessMode.OWNED,
            help="owned (default): each user reaches their own and their groups' vector stores; shared: every "
            "user of the credential reaches every store of its key.",
        )

    def handle(self, *args, name, base_url, organization, project, users, groups, access_mode, **options):
        api_key = self._read_api_key(options.get("stdin") or sys.stdin)
        user_model = get_user_model()
        found_users = list(user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__in": users}))
        missing = set(users) - {user.get_username() for user in found_users}
        if missing:
            raise CommandError(f"No such user: {', '.join(sorted(missing))}")
        found_groups = list(Group.objects.filter(name__in=groups))
        missing = set(groups) - {group.name for group in found_groups}
        if missing:
            raise CommandError(
                f"No such group: {', '.join(sorted(missing))}. Create it first (in admin, under Groups)."
            )

        credential = Credential(
            name=name,
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            access_mode=access_mode,
        )
        try:
            validate_typed_api_key(api_key)
            credential.full_clean()
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
                if hasattr(exc, "error_dict")
                else f"api_key: {' '.join(exc.messages)}"
            ) from None
        with transaction.atomic(using=router.db_for_write(Credential)):  # where the site's routers put it
            credential.save()
            credential.users.set(found_users)
            credential.groups.set(found_groups)
        self.stdout.write(str(credential.pk))

    @staticmethod
    def _read_api_key(stdin):
        if stdin.isatty():
            key = os.environ.get("OPENAI_API_KEY", "")
            source = "OPENAI_API_KEY"
        else:
            key = stdin.readline()
            source = "standard input"
        key = key.strip()
        if not key:
            raise CommandError(f"No API key on {source}.")
        return key
