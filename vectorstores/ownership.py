"""Who reaches which vector store: the rules of a credential's access mode, shared by the API and the console.

A credential in `owned` mode lets each user reach the stores they own or that are shared with one of
their groups; superusers and holders of `vectorstores.manage_all_stores` reach all, as everyone does
under a `shared` credential. Stores are known through StoreRecord rows; a store without one is
reached only by those who reach all.

Plain Django: no DRF here. The API and the console turn `StoreNotReachable` into their own answers.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from credentials.models import AccessMode, Credential

from . import gateway
from .conf import app_settings
from .models import FileRecord, StoreFileRecord, StoreRecord

MANAGE_ALL_STORES = "vectorstores.manage_all_stores"
# OpenAI's largest page: the one upstream page an owned list reads to check its own.
CHECK_PAGE_SIZE = 100
OPENAI_DEFAULT_PAGE_SIZE = 20
# Stores one list asks OpenAI about when its page seems to lack them (each a GET): a bound on the cost of
# a list when many stores were deleted behind the site's back.
CONFIRMATIONS = 10


class StoreNotReachable(Exception):
    """The store does not exist for this caller: not theirs, or not there at all (never told which).
    `access`: what the caller does reach with the credential (for the audit trail)."""

    def __init__(self, access):
        super().__init__(access.credential.pk)
        self.access = access


class UnknownCursor(Exception):
    """A list's `after`/`before` names no store of the caller's list."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


@dataclass
class StoreAccess:
    """What one request may reach with its credential."""

    credential: Credential
    user: object
    reaches_all: bool
    # The record of the store the request names, if the site has one.
    record_id: int | None = None


def usable_credential(user, credential_pk, store_id=None):
    """The credential `credential_pk` with what `user` reaches through it, or None if they may not use it.

    One SQL query decides both the credential and (for a `store_id`) the store, however the user reaches it.
    Raises StoreNotReachable for a store the user may not reach.
    """
    credential = Credential.objects.get_usable(user, credential_pk, also=_access_columns(user, store_id))
    if credential is None:
        return None
    access = StoreAccess(
        credential,
        user,
        reaches_all=(
            credential.access_mode != AccessMode.OWNED or user.is_superuser or bool(credential.manages_all_stores)
        ),
        record_id=credential.store_record,
    )
    if store_id is not None and not access.reaches_all and not credential.store_reachable:
        raise StoreNotReachable(access)
    return access


def check_store(access, store_id):
    """Raise StoreNotReachable unless the request's user reaches `store_id` (one query, for a caller that
    named the credential first and the store later, like the console's forms)."""
    if not access.reaches_all and not _reachable(access).filter(store_id=store_id).exists():
        raise StoreNotReachable(access)


def _access_columns(user, store_id):
    """The columns that get_usable computes besides the credential: is the store theirs, may they reach all."""
    alias = router.db_for_read(StoreRecord)
    owned_sql, permission_sql, owner_sql, record_sql = _access_sql(alias)
    user_pk, store_id = user._meta.pk.get_db_prep_value(user.pk, connections[alias]), store_id or ""
    return [
        ("store_reachable", owned_sql, [store_id, user_pk, user_pk]),
        ("manages_all_stores", permission_sql, [user_pk, user_pk]),
        ("store_owner", owner_sql, [store_id]),
        ("store_record", record_sql, [store_id]),
    ]


@functools.cache
def _access_sql(alias):
    """EXISTS a record of this credential's store %s owned by the user %s or shared with a group of user %s;
    EXISTS the manage_all_stores permission for user %s directly or through a group of user %s;
    the username of the owner of the store %s (for the audit trail); the id of the record of the store %s.

    Read from Django's permission tables, as ModelBackend reads them (so a permission that only a custom
    authentication backend grants is not seen here)."""
    quote = connections[alias].ops.quote_name
    User = get_user_model()
    records = StoreRecord._meta
    user_groups = User._meta.get_field("groups")
    user_permissions = User._meta.get_field("user_permissions")
    group_permissions = Group._meta.get_field("permissions")
    permission = Permission._meta
    content_type = ContentType._meta
    app_label, codename = MANAGE_ALL_STORES.split(".")
    groups_of_user = (
        f"SELECT ug.{quote(user_groups.m2m_reverse_name())} FROM {quote(user_groups.m2m_db_table())} ug"
        f" WHERE ug.{quote(user_groups.m2m_column_name())} = %s"
    )
    the_permission = (
        f"SELECT p.{quote(permission.pk.column)} FROM {quote(permission.db_table)} p"
        f" INNER JOIN {quote(content_type.db_table)} ct ON ct.{quote(content_type.pk.column)}"
        f" = p.{quote(permission.get_field('content_type').column)}"
        f" WHERE p.{quote(permission.get_field('codename').column)} = '{codename}'"
        f" AND ct.{quote(content_type.get_field('app_label').column)} = '{app_label}'"
    )
    owned = (
        f"EXISTS (SELECT 1 FROM {quote(records.db_table)} r"
        f" WHERE r.{quote(records.get_field('credential').column)} = {{credential}}"
        f" AND r.{quote(records.get_field('store_id').column)} = %s"
        f" AND (r.{quote(records.get_field('owner').column)} = %s"
        f" OR r.{quote(records.get_field('group').column)} IN ({groups_of_user})))"
    )
    permitted = (
        f"EXISTS (SELECT 1 FROM {quote(user_permissions.m2m_db_table())} up"
        f" WHERE up.{quote(user_permissions.m2m_column_name())} = %s"
        f" AND up.{quote(user_permissions.m2m_reverse_name())} IN ({the_permission}))"
        f" OR EXISTS (SELECT 1 FROM {quote(group_permissions.m2m_db_table())} gp"
        f" WHERE gp.{quote(group_permissions.m2m_column_name())} IN ({groups_of_user})"
        f" AND gp.{quote(group_permissions.m2m_reverse_name())} IN ({the_permission}))"
    )
    owner_name = (
        f"SELECT u.{quote(User._meta.get_field(User.USERNAME_FIELD).column)} FROM {quote(records.db_table)} r"
        f" INNER JOIN {quote(User._meta.db_table)} u ON u.{quote(User._meta.pk.column)}"
        f" = r.{quote(records.get_field('owner').column)}"
        f" WHERE r.{quote(records.get_field('credential').column)} = {{credential}}"
        f" AND r.{quote(records.get_field('store_id').column)} = %s"
    )
    record = (
        f"SELECT r.{quote(records.pk.column)} FROM {quote(records.db_table)} r"
        f" WHERE r.{quote(records.get_field('credential').column)} = {{credential}}"
        f" AND r.{quote(records.get_field('store_id').column)} = %s"
    )
    return owned, permitted, owner_name, record


def _reachable(access):
    return StoreRecord.objects.filter(credential=access.credential).reachable_by(access.user)


def may_manage_stores(user):
    """Whether `user` may assign stores to owners and groups (import, reassign): superusers and holders of
    the manage_all_stores permission."""
    return user.is_active and (user.is_superuser or user.has_perm(MANAGE_ALL_STORES))


def records_of(credential, store_ids):
    """{store id: its StoreRecord (owner and group loaded)} for those of `store_ids` the site records."""
    records = StoreRecord.objects.filter(credential=credential, store_id__in=list(store_ids))
    return {record.store_id: record for record in records.select_related("owner", "group")}


def unrecorded_stores(credential, *, each_page=None):
    """The stores of the credential's key at OpenAI that the site has no record of (up to LIST_MAX_ITEMS
    are looked at: the Page's has_more says whether there were more). `each_page`: as the gateway's unpaged
    lists take it (`gateway.operations.next_pages`)."""
    listed = gateway.list_vector_stores(credential, paged=False, each_page=each_page)
    recorded = set(
        StoreRecord.objects.filter(
            credential=credential, store_id__in=[store["id"] for store in listed.items]
        ).values_list("store_id", flat=True)
    )
    stores = [store for store in listed.items if store["id"] not in recorded]
    return gateway.Page(
        stores, listed.has_more, stores[0]["id"] if stores else None, stores[-1]["id"] if stores else None
    )


# --- groups named on create ---


def groups_for_new_store(access):
    """The groups a new store may be shared with: the user's own, or any for those who may manage stores
    (read from the access query, not asked again)."""
    manages = access.user.is_superuser or bool(access.credential.manages_all_stores)
    return Group.objects.all() if manages else access.user.groups.all()


def group_for_new_store(access, name):
    """The group `name` a new store is shared with, or None if it is not one of groups_for_new_store."""
    return groups_for_new_store(access).filter(name=name).first()


def store_owners(access):
    """The owners of the recorded stores the request's user reaches, ordered by username."""
    records = StoreRecord.objects.filter(credential=access.credential, owner__isnull=False)
    if not access.reaches_all:
        records = records.reachable_by(access.user)
    User = get_user_model()
    return User.objects.filter(pk__in=records.values("owner")).order_by(User.USERNAME_FIELD)


# --- records kept in step with what OpenAI holds ---


def create_store(access, fields, group=None):
    """gateway.create_vector_store, the new store recorded as the request's user's (shared with `group`):
    (the store, its record). If recording fails, the store is deleted at OpenAI again, so that nobody is
    left with a store nobody owns."""
    asked_at = timezone.now()
    store = gateway.create_vector_store(access.credential, fields)
    return store, _record_new_store(access, store, group, asked_at)


def _record_new_store(access, store, group, asked_at):
    fields = {"owner": access.user, "group": group, "created_by": access.user, **_snapshot_fields(store)}
    try:
        with transaction.atomic(using=router.db_for_write(StoreRecord)):
            return StoreRecord.objects.create(credential=access.credential, store_id=store["id"], **fields)
    except IntegrityError:
        record = StoreRecord.objects.filter(credential=access.credential, store_id=store["id"]).first()
        if record is None:
            _delete_unrecorded(access, store)
            raise
        # Recorded since OpenAI was asked to make it: an import's record of the new store, now its creator's.
        if record.recorded_at >= asked_at:
            StoreRecord.objects.filter(pk=record.pk).update(**fields)
            return record
        # Recorded before: OpenAI's answer named a store that is not new. It stays its owner's, undeleted.
        raise gateway.OpenAIBadResponse("OpenAI answered with the id of a vector store that is not new.") from None
    except Exception:
        _delete_unrecorded(access, store)
        raise


def _delete_unrecorded(access, store):
    try:
        gateway.delete_vector_store(access.credential, store["id"])
    except gateway.GatewayError:
        pass  # the error that matters is the one recording raised


def import_stores(credential, stores, *, owner=None, group=None, created_by=None, each_page=None):
    """Record stores that exist at OpenAI but not here (an admin's import) as `owner`'s, shared with `group`,
    with the Files each holds now (so that nobody else attaches or deletes them). `stores` come newest
    first, as OpenAI lists them. A store already recorded keeps its record. Returns the ids of the stores
    recorded now. A GatewayError while reading their files records nothing, nor does an exception
    `each_page()` raises: it is called before each upstream page of their files' lists, the first of each
    included (the import's own OpenAI calls)."""
    # Oldest first (lists come newest first), so that records of one second keep OpenAI's order (see
    # StoreRecord.Meta.ordering).
    unique = list({store["id"]: store for store in stores}.values())[::-1]
    stores = sorted(unique, key=lambda store: _snapshot_fields(store)["store_created_at"])
    recorded = set(records_of(credential, [store["id"] for store in stores]))
    new = [store for store in stores if store["id"] not in recorded]
    held = {store["id"]: _files_held(credential, store["id"], each_page) for store in new}
    records = [
        StoreRecord(
            credential=credential,
            store_id=store["id"],
            owner=owner,
            group=group,
            created_by=created_by,
            **_snapshot_fields(store),
        )
        for store in new
    ]
    with transaction.atomic(using=router.db_for_write(StoreRecord)):
        StoreRecord.objects.bulk_create(records, ignore_conflicts=True)  # one recorded meanwhile keeps its record
        pks = dict(StoreRecord.objects.filter(credential=credential, store_id__in=held).values_list("store_id", "pk"))
        StoreFileRecord.objects.bulk_create(
            [
                StoreFileRecord(store_id=pks[store_id], file_id=file_id)
                for store_id, ids in held.items()
                for file_id in ids
            ],
            ignore_conflicts=True,
        )
    return [record.store_id for record in records]


def _refresh_snapshots(records, fresh):
    """Keep the snapshots of `records` current with the stores OpenAI just returned ({id: store})."""
    changed = []
    for record in records:
        store = fresh.get(record.store_id)
        if store is not None and record.snapshot != store:
            for name, value in _snapshot_fields(store).items():
                setattr(record, name, value)
            changed.append(record)
    if changed:
        StoreRecord.objects.bulk_update(changed, ["snapshot", "store_created_at"])


def _files_held(credential, store_id, each_page):
    if each_page is not None:
        each_page()  # the list's first page
    listed = gateway.list_store_files(credential, store_id, paged=False, each_page=each_page)
    return [vs_file["id"] for vs_file in listed.items]


def assign_store(credential, store, *, owner, group, each_page=None):
    """Make `store` (as OpenAI returned it) `owner`'s, shared with `group`, recording it if the site had no
    record (`each_page`: as `import_stores` takes it). Returns the record's previous (owner, group), or None
    if it was recorded now."""
    record = StoreRecord.objects.filter(credential=credential, store_id=store["id"]).first()
    if record is None:
        import_stores(credential, [store], owner=owner, group=group, each_page=each_page)
        return None
    previous = (record.owner, record.group)
    record.owner, record.group = owner, group
    record.save(update_fields=["owner", "group"])
    return previous


def remember_store(access, store):
    """Keep the snapshot of the request's store current (as OpenAI just returned it)."""
    if access.record_id is not None:
        StoreRecord.objects.filter(pk=access.record_id).update(**_snapshot_fields(store))


def forget_store(access):
    """The request's store is gone (deleted here, or found missing at OpenAI): its record goes too."""
    if access.record_id is not None:
        StoreRecord.objects.filter(pk=access.record_id).delete()


@contextmanager
def forgetting_vanished_store(access, store_id, *, retrieving=False):
    """Around a call whose only object is the request's store: when OpenAI answers 404 and (unless the call
    was the store's own GET) a GET of the store confirms it, the store is gone, and so goes its record. A
    404 of another kind (a proxy, a route the server lacks) leaves the record alone."""
    try:
        yield
    except gateway.OpenAINotFound:
        if access.record_id is not None and (retrieving or _store_gone(access.credential, store_id)):
            forget_store(access)
        raise


# The last second of year 9999: a created_at past it is no time (nor fits every database's integer).
LATEST_TIMESTAMP = 253_402_300_799


def _snapshot_fields(obj, created_at_field="store_created_at"):
    """A record's copy of an object as OpenAI returned it, and its created_at (the lists' order; 0 when OpenAI
    sent no time a clock can show)."""
    created_at = obj.get("created_at")
    valid = isinstance(created_at, int) and not isinstance(created_at, bool) and 0 <= created_at <= LATEST_TIMESTAMP
    return {"snapshot": obj, created_at_field: created_at if valid else 0}


# --- files ---


def record_store_files(access, file_ids):
    """Remember the Files the request's user attached to the request's store (if it is recorded)."""
    if access.record_id is not None and file_ids:
        StoreFileRecord.objects.bulk_create(
            [StoreFileRecord(store_id=access.record_id, file_id=id, attached_by=access.user) for id in file_ids],
            ignore_conflicts=True,
        )


def forget_store_files(access, file_ids):
    """The Files detached from the request's store."""
    if access.record_id is not None and file_ids:
        StoreFileRecord.objects.filter(store_id=access.record_id, file_id__in=list(file_ids)).delete()


def remove_store_files(access, store_id, file_ids, *, delete_files):
    """Detach `file_ids` from the request's store (gateway.remove_files_from_store), deleting the Files too
    with `delete_files` but for those a store of another user holds (only detached); the records of the
    Files detached (or deleted) go, also when some removals failed (the GatewayError then carries every report)."""
    keep = files_of_others(access, file_ids, besides_store=store_id) if delete_files else set()
    reports = []
    try:
        reports = gateway.remove_files_from_store(
            access.credential, store_id, file_ids, delete_files=delete_files, keep_files=keep
        )
        return reports
    except gateway.GatewayError as error:
        reports = error.report.get("files") or []
        raise
    finally:
        # A deleted File's records go with it (in every store); a detached one's, in this store only.
        forget_files(access.credential, [report["id"] for report in reports if report.get("file_deleted")])
        forget_store_files(
            access, [report["id"] for report in reports if report.get("deleted") and not report.get("file_deleted")]
        )


def files_of_others(access, file_ids, *, besides_store=None, attaching=False):
    """The ids among `file_ids` that are not the user's to delete or to attach elsewhere (owned mode only; in
    shared mode, and for those who reach all, none): Files a store the user cannot reach holds, and Files
    uploaded here for somebody else that no store the user reaches holds. `attaching` (to the request's store,
    or a new one when it has none): also Files uploaded here for somebody else who would not reach that store,
    who could then neither see nor delete the copy (a group's member could keep it after leaving the group)."""
    ids = list(file_ids)
    if access.reaches_all or not ids:
        return set()
    refused = _held_out_of_reach(access, ids, besides_store)
    if attaching:
        refused |= _out_of_uploaders_reach(access, ids)
    return refused


def _held_out_of_reach(access, ids, besides_store):
    records = StoreFileRecord.objects.filter(store__credential=access.credential, file_id__in=ids)
    in_reach = records.filter(store__in=_reachable(access)).values("file_id")
    held = records.exclude(store__store_id=besides_store) if besides_store is not None else records
    uploaded_for_others = (
        FileRecord.objects.filter(credential=access.credential, file_id__in=ids)
        .exclude(owner=access.user)
        .exclude(file_id__in=in_reach)
    )
    return set(held.exclude(store__in=_reachable(access)).values_list("file_id", flat=True)) | set(
        uploaded_for_others.values_list("file_id", flat=True)
    )


def _out_of_uploaders_reach(access, ids):
    uploaded_by_others = FileRecord.objects.filter(credential=access.credential, file_id__in=ids).exclude(
        owner=access.user
    )
    target = None
    if access.record_id is not None:
        target = StoreRecord.objects.filter(pk=access.record_id).values("owner_id", "group_id").first()
    if target is not None:  # the uploader reaches it as its owner, or through its group
        reach = Q(owner_id=target["owner_id"])
        if target["group_id"] is not None:
            reach |= Q(owner__groups=target["group_id"])
        uploaded_by_others = uploaded_by_others.exclude(reach)
    return set(uploaded_by_others.values_list("file_id", flat=True))


# --- Files uploaded here ---


class UploadRecords:
    """The records an upload keeps as it goes (`gateway.FileRecords`): each File it makes is the request's user's
    from the moment OpenAI answers with it, so that no upload whose answer was lost, in any process, takes it.
    Uploaded Files stay their uploader's once no store holds them, so nobody else can attach them then.

    No transaction (uploads run side by side). An id the site already knows is no new File: it keeps its owner,
    and OpenAI's answer is not believed.
    """

    def __init__(self, access):
        self.access = access
        self.recorded = set()  # ids of the Files this upload made and recorded

    def knows(self, file_id):
        """Whether the site records the File: uploaded here, or held by a recorded store (attached, imported)."""
        credential = self.access.credential
        uploaded = FileRecord.objects.filter(credential=credential, file_id=file_id).values("file_id")
        held = StoreFileRecord.objects.filter(store__credential=credential, file_id=file_id).values("file_id")
        return uploaded.union(held).exists()

    def made(self, file):
        if file["id"] in self.recorded:
            return True
        # Asked first, so that a hostile answer does not end in an IntegrityError, which would spoil the
        # request's transaction under a host's ATOMIC_REQUESTS; the INSERT's refusal covers the race.
        if self.knows(file["id"]):
            return False
        try:
            _create_file_record(self.access, file)
        except IntegrityError:  # recorded meanwhile: another request was answered with the same id
            return False
        self.recorded.add(file["id"])
        return True


def upload_file(access, upload, **options):
    """gateway.upload_file (OpenAI's POST /files), the File recorded as the request's user's."""
    return gateway.upload_file(access.credential, upload, records=UploadRecords(access), **options)


def upload_files_to_store(access, store_id, uploads, **options):
    """gateway.upload_files_to_store into the request's store, its Files recorded as the request's user's as they
    are made, and once they are in the store, as the store's. When it fails, the records of the Files its cleanup
    deleted go, and the Files it leaves at OpenAI are the user's (a lost upload's File found there included)."""
    records = UploadRecords(access)
    try:
        uploaded = gateway.upload_files_to_store(access.credential, store_id, uploads, records=records, **options)
    except gateway.GatewayError as failed:
        for file in failed.files_left:
            records.made(file)
        kept = {file["id"] for file in failed.files_left}
        forget_files(access.credential, [file_id for file_id in failed.files_made if file_id not in kept])
        record_store_files(access, failed.files_in_store)
        raise
    record_store_files(access, [file["id"] for file in uploaded.files])
    return uploaded


def _create_file_record(access, file):
    """One INSERT: the File (OpenAI's File object) is the request's user's."""
    return FileRecord.objects.create(
        credential=access.credential, file_id=file["id"], owner=access.user, **_snapshot_fields(file, "file_created_at")
    )


def remember_file(access, file):
    """Keep the snapshot of an uploaded File current (as OpenAI just returned it)."""
    FileRecord.objects.filter(credential=access.credential, file_id=file["id"]).update(
        **_snapshot_fields(file, "file_created_at")
    )


def forget_files(credential, file_ids):
    """The Files are deleted at OpenAI (which also took them out of every store): their records go."""
    ids = list(file_ids)
    # A delete is a transaction: only for records that exist (most Files removed through the API have none).
    for records in (
        FileRecord.objects.filter(credential=credential, file_id__in=ids),
        StoreFileRecord.objects.filter(store__credential=credential, file_id__in=ids),
    ):
        if ids and records.exists():
            records.delete()


@contextmanager
def forgetting_vanished_file(access, file_id):
    """Around a call on one File: when OpenAI answers 404, the File is gone, and so go its records."""
    try:
        yield
    except gateway.OpenAINotFound:
        forget_files(access.credential, [file_id])
        raise


def file_reachable(access, file_id):
    """Whether the user may see and delete the File: theirs (uploaded here for them), held by a store they
    reach, or any File for those who reach all."""
    if access.reaches_all:
        return True
    return (
        FileRecord.objects.filter(credential=access.credential, file_id=file_id, owner=access.user).exists()
        or StoreFileRecord.objects.filter(store__in=_reachable(access), file_id=file_id).exists()
    )


def uploaded_files(access, *, limit, order=None, after=None, purpose=None):
    """A page (gateway.Page) of the Files uploaded here for the user, newest first (or `order`), as the site
    last saw them. Raises UnknownCursor for an `after` that is none of them."""
    records = FileRecord.objects.filter(credential=access.credential, owner=access.user)
    if purpose is not None:
        records = records.filter(snapshot__purpose=purpose)
    descending = (order or "desc") == "desc"
    if after is not None:
        records, _ = _past_cursor(records, "after", {"file_id": after}, "file_created_at", older=descending)
    order_by = ["-file_created_at", "-id"] if descending else ["file_created_at", "id"]
    page = list(records.order_by(*order_by).values_list("snapshot", flat=True)[: limit + 1])
    items = page[:limit]
    return gateway.Page(items, len(page) > limit, items[0]["id"] if items else None, items[-1]["id"] if items else None)


# --- owned lists ---


def list_stores(access, *, paged, each_page=None, limit=None, order=None, after=None, before=None):
    """A page of the stores the user reaches, in OpenAI's list shape (gateway.Page). `each_page`: as the
    gateway's unpaged lists take it (`gateway.operations.next_pages`).

    Those who reach all get OpenAI's own list. Others get their recorded stores, read from the
    database in OpenAI's order (so pages are never short for stores of others), each as OpenAI returned
    it in the one upstream page that starts where this page starts (which also drops stores deleted at
    OpenAI behind this site's back), else as the site last saw it.
    """
    if access.reaches_all:
        return gateway.list_vector_stores(
            access.credential,
            paged=paged,
            each_page=each_page,
            **_given(limit=limit, order=order, after=after, before=before),
        )
    descending = (order or "desc") == "desc"
    size = (limit or OPENAI_DEFAULT_PAGE_SIZE) if paged else app_settings.LIST_MAX_ITEMS
    records, cursor_created_at = _owned_page(access, descending, size, after, before)
    if before is None:
        upstream = _upstream_page(access.credential, order, after)
        if upstream is not None and _drop_vanished(access.credential, records, upstream, descending, cursor_created_at):
            records, _ = _owned_page(access, descending, size, after, before)
        fresh = {store["id"]: store for store in (upstream.items if upstream else [])}
        _refresh_snapshots(records[:size], fresh)
        items = [record.snapshot for record in records[:size]]
    else:
        items = [record.snapshot for record in records[:size]]
    has_more = len(records) > size
    return gateway.Page(items, has_more, items[0]["id"] if items else None, items[-1]["id"] if items else None)


def _owned_page(access, descending, size, after, before):
    """Up to size + 1 records (one more tells whether more exist) past the cursor, in the list's order,
    and the created_at of the `after` cursor's store (None without one)."""
    records, after_created_at = _reachable(access), None
    order_by = ["-store_created_at", "-id"] if descending else ["store_created_at", "id"]
    for name, cursor_id in (("after", after), ("before", before)):
        if cursor_id is None:
            continue
        older = (name == "after") == descending
        records, created_at = _past_cursor(records, name, {"store_id": cursor_id}, "store_created_at", older=older)
        if name == "after":
            after_created_at = created_at
    if before is not None and after is None:  # the page just ahead of the cursor: walk back, then turn round
        backwards = ["store_created_at", "id"] if descending else ["-store_created_at", "-id"]
        back = list(records.order_by(*backwards)[: size + 1])
        return back[:size][::-1] + back[size:], after_created_at
    return list(records.order_by(*order_by)[: size + 1]), after_created_at


def _past_cursor(records, name, cursor_lookup, created_field, *, older):
    """The `records` past the one `cursor_lookup` finds, in the order of (`created_field`, id): the older
    ones, or the newer; and the cursor's `created_field`. Raises UnknownCursor(name) if no record is the cursor."""
    cursor = records.filter(**cursor_lookup).values_list(created_field, "id").first()
    if cursor is None:
        raise UnknownCursor(name)
    created_at, pk = cursor
    op = "lt" if older else "gt"
    past = Q(**{f"{created_field}__{op}": created_at}) | Q(**{created_field: created_at, f"id__{op}": pk})
    return records.filter(past), created_at


def _upstream_page(credential, order, after):
    """OpenAI's page of CHECK_PAGE_SIZE stores past the same cursor, or None if OpenAI no longer knows the
    cursor (then the page is shown as last seen)."""
    try:
        return gateway.list_vector_stores(
            credential, paged=True, limit=CHECK_PAGE_SIZE, **_given(order=order, after=after)
        )
    except gateway.OpenAIStatusError as error:
        if error.upstream_status in (400, 404):
            return None
        raise


def _drop_vanished(credential, records, upstream, descending, cursor_created_at):
    """Forget the records that OpenAI's page covers but does not hold, once OpenAI confirms (404) that their
    store is gone. True if any were.

    The page covers the seconds strictly between the cursor's (`cursor_created_at`, None for the list's
    start) and its last store's: within one second the site's order (the order it recorded stores in) may
    differ from OpenAI's, so those two seconds prove nothing. At most CONFIRMATIONS stores are asked about
    per list; the rest wait for a later one.
    """
    listed = {store["id"] for store in upstream.items}
    edge = (upstream.items[-1].get("created_at") if upstream.items else None) if upstream.has_more else None
    if upstream.has_more and not isinstance(edge, int):
        return False
    inf = float("inf")
    start = cursor_created_at if cursor_created_at is not None else (inf if descending else -inf)
    end = edge if upstream.has_more else (-inf if descending else inf)
    oldest, newest = (end, start) if descending else (start, end)
    suspects = [r for r in records if oldest < r.store_created_at < newest and r.store_id not in listed]
    vanished = [r.pk for r in suspects[:CONFIRMATIONS] if _store_gone(credential, r.store_id)]
    if vanished:
        StoreRecord.objects.filter(pk__in=vanished).delete()
    return bool(vanished)


def _store_gone(credential, store_id):
    """Whether OpenAI answers 404 for the store (any other answer, or failure, proves nothing)."""
    try:
        gateway.get_vector_store(credential, store_id)
    except gateway.OpenAINotFound:
        return True
    except gateway.GatewayError:
        return False
    return False


def _given(**params):
    return {name: value for name, value in params.items() if value is not None}
