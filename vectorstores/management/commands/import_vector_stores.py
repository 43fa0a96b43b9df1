import uuid
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from credentials.models import AccessMode, Credential

from ... import gateway, ownership
from ...conf import app_settings


class Command(BaseCommand):
    help = (
        "Record a credential's vector stores that exist at OpenAI but not on this site, as a user's and/or a "
        "group's. Name the stores with --store (repeatable) or take them all with --all; --list only shows "
        "them. A store the site already records keeps its owner and group."
    )

    def add_arguments(self, parser):
        parser.add_argument("credential", help="The credential's id, or its exact name.")
        parser.add_argument(
            "--owner",
            dest="owner_username",
            metavar="USERNAME",
            help="The user who owns the stores (one who may use the credential).",
        )
        parser.add_argument(
            "--group", dest="group_name", metavar="NAME", help="The group whose members reach the stores too."
        )
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--store",
            action="append",
            dest="store_ids",
            metavar="ID",
            help="A store to record (repeatable): one of those --list shows.",
        )
        which.add_argument("--all", action="store_true", dest="every_store", help="Every store without a record.")
        which.add_argument(
            "--list", action="store_true", dest="list_only", help="Only print the stores without a record."
        )
        parser.add_argument("--dry-run", action="store_true", help="Report what would be recorded; change nothing.")

    def handle(
        self, *args, credential, owner_username, group_name, store_ids, every_store, list_only, dry_run, **options
    ):
        credential = _credential(credential)
        if list_only:
            if owner_username or group_name or dry_run:
                raise CommandError("--list changes nothing: it takes no --owner, --group or --dry-run.")
            self._list(credential, _unrecorded(credential))
            return
        if not (owner_username or group_name):
            raise CommandError("Give --owner, --group or both: whose the stores become.")
        owner = _owner(owner_username, credential) if owner_username else None
        group = _group(group_name) if group_name else None
        unrecorded = _unrecorded(credential)
        if every_store:
            chosen, kept = unrecorded.items, {}
        else:
            chosen, kept = _chosen(credential, unrecorded, list(dict.fromkeys(store_ids)))

        recorded_ids = (
            [store["id"] for store in chosen]
            if dry_run
            else ownership.import_stores(credential, chosen, owner=owner, group=group)
        )
        verb = "Would record" if dry_run else "Recorded"
        for store in chosen:
            if store["id"] in recorded_ids:
                self.stdout.write(f"{verb} {_described(store)}")
        for store_id, record in kept.items():
            self.stdout.write(f"Kept {store_id}: already recorded ({_whose(record.owner, record.group)})")
        self._summarize(credential, len(recorded_ids), len(kept), _whose(owner, group), dry_run)
        if unrecorded.has_more:
            self._note_more(credential)

    def _list(self, credential, unrecorded):
        for store in unrecorded.items:
            self.stdout.write(f"{store['id']}\t{store.get('name') or ''}\t{_created(store)}")
        count = len(unrecorded.items)
        self.stdout.write(f"{count} store{'' if count == 1 else 's'} of {credential} without a record.")
        if unrecorded.has_more:
            self._note_more(credential)

    def _summarize(self, credential, recorded, kept, whose, dry_run):
        stores = f"{recorded} store{'' if recorded == 1 else 's'}"
        kept_note = f"; {kept} already recorded, kept as they were" if kept else ""
        if dry_run:
            self.stdout.write(f"Dry run: {stores} would be recorded as {whose}{kept_note}. Nothing was changed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"{stores} recorded as {whose}{kept_note}."))
        if credential.access_mode == AccessMode.SHARED:
            # Records matter once the credential is switched to owned mode; until then everyone reaches all.
            self.stdout.write(
                f"{credential} is in shared mode: everyone who may use it reaches every store until it is owned."
            )

    def _note_more(self, credential):
        self.stdout.write(
            self.style.WARNING(
                f"OpenAI holds more stores of {credential} than the {app_settings.LIST_MAX_ITEMS} looked at "
                "(the LIST_MAX_ITEMS setting): those past them were not considered."
            )
        )


def _credential(reference):
    """The credential whose id or exact name `reference` is."""
    try:
        by_id = Credential.objects.filter(pk=uuid.UUID(reference)).first()
    except ValueError:
        by_id = None
    if by_id is not None:
        return by_id
    named = list(Credential.objects.filter(name=reference))
    if not named:
        raise CommandError(f"No credential has the id or name {reference!r}.")
    if len(named) > 1:
        raise CommandError(
            f"{len(named)} credentials are named {reference!r}: give the id of one of them "
            f"({', '.join(str(credential.pk) for credential in named)})."
        )
    return named[0]


def _owner(username, credential):
    user_model = get_user_model()
    owner = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    if owner is None:
        raise CommandError(f"No such user: {username}")
    # Who owns a store reaches it through the credential: only one who may use the credential can.
    if not credential.may_be_used_by(owner):
        raise CommandError(f"{username} may not use {credential}: add them to its users or to one of its groups first.")
    return owner


def _group(name):
    group = Group.objects.filter(name=name).first()
    if group is None:
        raise CommandError(f"No such group: {name}")
    return group


def _unrecorded(credential):
    try:
        return ownership.unrecorded_stores(credential)
    except gateway.GatewayError as error:
        raise CommandError(f"Could not list the vector stores of {credential}: {error.message}") from None


def _chosen(credential, unrecorded, store_ids):
    """The stores among `unrecorded` that `store_ids` name, and {id: record} of those already recorded.
    Any other id is an error: nothing is recorded then."""
    by_id = {store["id"]: store for store in unrecorded.items}
    kept = ownership.records_of(credential, [store_id for store_id in store_ids if store_id not in by_id])
    unknown = [store_id for store_id in store_ids if store_id not in by_id and store_id not in kept]
    if unknown:
        looked_at = f" (only the first {app_settings.LIST_MAX_ITEMS} were looked at)" if unrecorded.has_more else ""
        raise CommandError(
            f"Not among the stores of {credential} at OpenAI without a record{looked_at}: {', '.join(unknown)}. "
            "Nothing was recorded."
        )
    return [by_id[store_id] for store_id in store_ids if store_id in by_id], kept


def _described(store):
    created = _created(store)
    return f"{store['id']} “{store.get('name') or ''}”" + (f" (created {created})" if created else "")


def _created(store):
    """The store's created_at in ISO 8601 (UTC), blank if OpenAI gave none."""
    created_at = store.get("created_at")
    return datetime.fromtimestamp(created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(created_at, int) else ""


def _whose(owner, group):
    parts = [f"owner {owner.get_username()}" if owner else "", f"group {group.name}" if group else ""]
    return ", ".join(part for part in parts if part) or "nobody's"
