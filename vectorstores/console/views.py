"""The console's pages: a credential's vector stores, a store (its files, uploads, attaching existing files,
search), one file of a store (its attributes and indexed content), and a file batch (its progress).
Each one checks, in this order: a staff user (admin's login), the model permission (view to browse;
change to create, edit, delete, upload, attach, remove and cancel: otherwise 403),
and that the user may use the credential under the API's rules (otherwise 404, the same as for a
credential that does not exist). Every OpenAI call is a `vectorstores.gateway` function; its error
(a `GatewayError`) becomes an admin message with the error's text, and every change is written to the
credential's admin history (LogEntry).

Ownership (`vectorstores.ownership`, the API's rules): under a credential in owned mode, a user who does not
reach every store lists only their own and those shared with a group of theirs, and any other store answers
404 like an unknown credential, before anything is asked of OpenAI. The site's records follow what the pages
do (a store created is the user's, one deleted is forgotten, Files attached and removed are noted), the list
shows each store's owner and group and filters by owner, and users who may manage stores reassign a store
and import the stores that have no record yet.
"""

import re
import uuid
from dataclasses import dataclass, field, replace

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import re_path, reverse
from django.utils.text import get_text_list
from django.utils.translation import ngettext

from credentials.models import AccessMode

from .. import gateway, ownership
from ..api.audit import record_console_change
from ..api.exceptions import summarise
from ..api.serializers import OBJECT_ID, ListQuerySerializer, RemoveFilesSerializer
from ..api.transactions import outside_request_transactions
from ..conf import app_settings
from ..filetypes import FILE_TYPES
from ..openai_api.serializers import PURPOSE
from .display import (
    FILE_STATUSES,
    STORE_COLUMNS,
    UPSTREAM_ORDERS,
    BatchRow,
    FileContent,
    FileDetail,
    FileRow,
    StoreRow,
    search_results,
    sort_rows,
    store_order,
    upstream_order,
)
from .forms import (
    AttachFilesForm,
    CursorForm,
    DeleteStoreForm,
    FileAttributesForm,
    ImportStoresForm,
    RemoveFileForm,
    RemoveFilesForm,
    SearchForm,
    StoreChangeForm,
    StoreCreateForm,
    StoreOwnerForm,
    UploadOptionsForm,
)
from .throttling import charge, throttled

TEMPLATES = "admin/vectorstores/console/"
STORE_ID = rf"(?P<store_id>{OBJECT_ID})"  # the API's object id rule
FILE_ID = rf"(?P<file_id>{OBJECT_ID})"
BATCH_ID = rf"(?P<batch_id>{OBJECT_ID})"
CREDENTIAL_ID = r"(?P<object_id>[0-9A-Fa-f-]{32,36})"
STORE_ID_PREFIX = "vs_"  # how OpenAI's vector store ids begin: a search for one is a single retrieve
UPSTREAM_MAX_LIMIT = ListQuerySerializer().fields["limit"].max_value  # OpenAI's largest page
NO_PAGE = gateway.Page([], False, None, None)
TOO_MANY_FILES = "that many would take you past your request rate (one request per file)."


class UnusableCredential(Exception):
    """A credential whose key must not be used, with the gateway's refusal (see `gateway.check_usable`)."""

    def __init__(self, credential, error):
        super().__init__(credential.pk)
        self.credential = credential
        self.error = error


class Console:
    """The console's views, routed by a credential ModelAdmin: `get_urls()` returns `Console(self).urls() + ...`."""

    stores_per_page = 50
    files_per_page = 50

    def __init__(self, model_admin):
        self.model_admin = model_admin
        self.admin_site = model_admin.admin_site
        self.opts = model_admin.model._meta
        self.info = f"{self.opts.app_label}_{self.opts.model_name}"

    # --- routing -------------------------------------------------------------------------------

    def urls(self):
        from .upload_endpoint import ConsoleUploadView

        def page(view):
            # Outside ATOMIC_REQUESTS, as the API: what a page records follows what it did at OpenAI.
            counted = throttled(self._handle_unusable(view), self.admin_site)
            return outside_request_transactions(self.admin_site.admin_view(counted))

        root, store = rf"^{CREDENTIAL_ID}/vector-stores/", rf"{STORE_ID}/"
        file, batch = rf"{store}files/{FILE_ID}/", rf"{store}batches/{BATCH_ID}/"
        return [
            re_path(rf"{root}$", page(self.store_list), name=f"{self.info}_vector_stores"),
            re_path(rf"{root}add/$", page(self.store_add), name=f"{self.info}_vector_store_add"),
            re_path(rf"{root}import/$", page(self.store_import), name=f"{self.info}_vector_store_import"),
            re_path(rf"{root}{store}$", page(self.store_detail), name=f"{self.info}_vector_store"),
            re_path(rf"{root}{store}change/$", page(self.store_change), name=f"{self.info}_vector_store_change"),
            re_path(rf"{root}{store}delete/$", page(self.store_delete), name=f"{self.info}_vector_store_delete"),
            re_path(rf"{root}{store}owner/$", page(self.store_owner), name=f"{self.info}_vector_store_owner"),
            re_path(
                rf"{root}{store}remove-files/$", page(self.remove_files), name=f"{self.info}_vector_store_remove_files"
            ),
            re_path(rf"{root}{store}attach/$", page(self.attach_files), name=f"{self.info}_vector_store_attach"),
            re_path(rf"{root}{file}$", page(self.file_detail), name=f"{self.info}_vector_store_file"),
            re_path(rf"{root}{file}remove/$", page(self.file_remove), name=f"{self.info}_vector_store_file_remove"),
            re_path(rf"{root}{batch}$", page(self.batch_detail), name=f"{self.info}_vector_store_batch"),
            re_path(rf"{root}{batch}cancel/$", page(self.batch_cancel), name=f"{self.info}_vector_store_batch_cancel"),
            # JSON for the page's script, not a page: DRF with session authentication and CSRF.
            re_path(
                rf"{root}{store}upload/$",
                ConsoleUploadView.as_view(console=self),
                name=f"{self.info}_vector_store_upload",
            ),
        ]

    def url(self, name, *args):
        return reverse(f"{self.admin_site.name}:{self.info}_{name}", args=args)

    def console_url(self, credential):
        return self.url("vector_stores", credential.pk)

    def store_url(self, credential, store_id):
        return self.url("vector_store", credential.pk, store_id)

    def file_url(self, credential, store_id, file_id):
        """The page of a store's file ("" for an id no console URL can hold: OpenAI's, not ours)."""
        if not (isinstance(file_id, str) and re.fullmatch(OBJECT_ID, file_id)):
            return ""
        return self.url("vector_store_file", credential.pk, store_id, file_id)

    def batch_url(self, credential, store_id, batch_id):
        return self.url("vector_store_batch", credential.pk, store_id, batch_id)

    def _urls(self, credential, store_id=None, file_id=None, batch_id=None):
        urls = {
            "credential": self.url("change", credential.pk),
            "history": self.url("history", credential.pk),
            "changelist": self.url("changelist"),
            "stores": self.console_url(credential),
            "add": self.url("vector_store_add", credential.pk),
            "import": self.url("vector_store_import", credential.pk),
        }
        if store_id:
            urls.update(
                {
                    name: self.url(f"vector_store{suffix}", credential.pk, store_id)
                    for name, suffix in [
                        ("store", ""),
                        ("change", "_change"),
                        ("delete", "_delete"),
                        ("owner", "_owner"),
                        ("remove_files", "_remove_files"),
                        ("upload", "_upload"),
                        ("attach", "_attach"),
                    ]
                }
            )
        if store_id and file_id:
            urls["file"] = self.file_url(credential, store_id, file_id)
            urls["file_remove"] = self.url("vector_store_file_remove", credential.pk, store_id, file_id)
        if store_id and batch_id:
            urls["batch"] = self.batch_url(credential, store_id, batch_id)
            urls["batch_cancel"] = self.url("vector_store_batch_cancel", credential.pk, store_id, batch_id)
        return urls

    # --- access --------------------------------------------------------------------------------

    def usable_access(self, request, object_id, store_id=None):
        """What the user reaches through the credential `object_id` (an `ownership.StoreAccess`) if they may
        use it under the API's rules, and reach the store `store_id` when one is named; else None."""
        try:
            pk = uuid.UUID(str(object_id))
        except ValueError:
            return None
        try:
            return ownership.usable_credential(request.user, pk, store_id)
        except ownership.StoreNotReachable:
            return None

    def may(self, request, change, credential=None):
        check = self.model_admin.has_change_permission if change else self.model_admin.has_view_permission
        return self.admin_site.has_permission(request) and check(request, credential)

    def may_assign(self, request, credential):
        """Whether the user may set whose the credential's stores are (reassign, import)."""
        return ownership.may_manage_stores(request.user) and self.may(request, True, credential)

    def access(self, request, object_id, store_id=None, *, change=False):
        """The checks every page makes first; what the user reaches through the credential (`StoreAccess`:
        its `credential`, and what the site's records say of the store `store_id`). A store they may not
        reach answers 404 like a credential they may not use, before anything is asked of OpenAI."""
        if not self.may(request, change):
            raise PermissionDenied
        access = self.usable_access(request, object_id, store_id)
        if access is None:
            raise Http404("No such credential or vector store, or not one you may use.")
        if not self.may(request, change, access.credential):
            raise PermissionDenied
        try:
            gateway.check_usable(access.credential)
        except gateway.CredentialNotUsable as error:
            raise UnusableCredential(access.credential, error) from None
        access.credential.mark_used()
        return access

    def _handle_unusable(self, view):
        def wrapped(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except UnusableCredential as unusable:
                messages.error(
                    request, f"The vector stores of {unusable.credential.name} cannot be shown: {unusable.error}"
                )
                return HttpResponseRedirect(self.url("change", unusable.credential.pk))

        wrapped.__name__ = view.__name__
        return wrapped

    def may_read_history(self, request, credential):
        """The credential's history names every store the console changed (and the files it uploaded): only
        those who may use the credential read it, and under an owned credential only those who reach every store."""
        if credential.access_mode == AccessMode.OWNED and not ownership.may_manage_stores(request.user):
            return False
        return credential.may_be_used_by(request.user)

    def log(self, request, credential, message):
        """Record a change in the credential's admin history."""
        self.model_admin.log_change(request, credential, message)

    def log_change(self, request, access, message, operation, store_id="", object_ids=(), *, store_owner=None):
        """Record a change the console made at OpenAI or in the site's records: in the credential's admin history,
        and in the audit trail as `console_<operation>` (its uploads are recorded as the API's are)."""
        self.log(request, access.credential, message)
        record_console_change(request, access, operation, store_id, object_ids, store_owner)

    def render(self, request, template, credential, title, context, store_id=None, **ids):
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            TEMPLATES + template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "app_label": self.opts.app_label,
                "credential": credential,
                "title": title,
                "urls": self._urls(credential, store_id, **ids),
                "may_read_history": self.may_read_history(request, credential),
                "has_change_permission": self.may(request, True, credential),
                **context,
            },
        )

    # --- the list of vector stores ---------------------------------------------------------------

    def store_list(self, request, object_id):
        """Sorted by creation (OpenAI's own order) without a search or an owner filter: one page from OpenAI,
        with cursors to the previous and next. Any other sort, a search or an owner filter: every store (up to
        LIST_MAX_ITEMS), sorted, searched, filtered and paged here, and a note on the page says so. A user who
        reaches only their own stores gets those (`ownership.list_stores`). Each row shows the store's owner
        and group by the site's records."""
        access = self.access(request, object_id)
        credential = access.credential
        query = request.GET.get("q", "")
        order = store_order(request.GET.get("o", ""))
        owner = request.GET.get("owner")  # a username, or "" for the stores without an owner
        if query:
            listing = self._stores_found(request, access, query, order, owner)
        elif owner is not None or not upstream_order(order):
            listing = self._stores_fetched(request, access, order, owner=owner)
        else:
            listing = self._stores_paged(request, access, order)
        for row in listing["stores"]:
            row.url = self.store_url(credential, row.id)
        return self.render(
            request,
            "store_list.html",
            credential,
            "Vector stores",
            {
                "subtitle": credential.name,
                "query": query,
                "owner": owner,
                "owner_links": _owner_links(request, access, owner),
                "headers": _headers(request, order),
                "may_assign": self.may_assign(request, credential),
                **listing,
            },
        )

    def _stores_paged(self, request, access, order):
        """One page of the stores the user reaches, where the query string's cursor says."""
        cursor = self._cursor(request)
        params = {"paged": True, "order": upstream_order(order), "limit": min(self.stores_per_page, UPSTREAM_MAX_LIMIT)}
        try:
            try:
                page = ownership.list_stores(access, **params, **cursor)
            except ownership.UnknownCursor:  # the link's store is gone from the user's list
                messages.warning(request, "That page link is not valid, so the first page is shown.")
                cursor = {}
                page = ownership.list_stores(access, **params)
        except gateway.GatewayError as error:
            messages.error(request, f"The vector stores could not be listed: {error}")
            page = NO_PAGE
        count = len(page.items)
        if cursor or page.has_more:
            summary = ngettext("%(count)d vector store on this page", "%(count)d vector stores on this page", count)
        else:  # the only page: every store
            summary = ngettext("%(count)d vector store", "%(count)d vector stores", count)
        rows = [StoreRow.of(store) for store in page.items]
        return {
            "stores": _with_records(rows, ownership.records_of(access.credential, [row.id for row in rows])),
            "pager": _cursor_pager(request, page, cursor, summary % {"count": count}),
            "cursor": bool(cursor),
        }

    def _stores_found(self, request, access, query, order, owner):
        """The stores whose name or id contains `query`; without an owner filter, a whole id of a store the
        user reaches is looked up by itself."""
        if owner is None and query.startswith(STORE_ID_PREFIX) and re.fullmatch(OBJECT_ID, query):
            try:
                ownership.check_store(access, query)
                store = gateway.get_vector_store(access.credential, query)
            except (ownership.StoreNotReachable, gateway.OpenAINotFound):
                pass  # no store of theirs has this id: it may still be part of a name or of an id
            except gateway.GatewayError as error:
                messages.error(request, f"The vector stores could not be searched: {error}")
                return {"stores": [], "matches": 0, "pager": Pager(summary="")}
            else:
                return {
                    "stores": _with_records([StoreRow.of(store)], ownership.records_of(access.credential, [query])),
                    "matches": 1,
                    "note": "Found by its id: this vector store was retrieved from OpenAI by itself.",
                    "pager": Pager(
                        summary=ngettext("%(count)d vector store", "%(count)d vector stores", 1) % {"count": 1}
                    ),
                }
        return self._stores_fetched(request, access, order, query, owner)

    def _stores_fetched(self, request, access, order, query="", owner=None):
        """Every store the user reaches (up to LIST_MAX_ITEMS), searched, filtered by owner, sorted and paged
        here."""
        rows, truncated, fetched = [], False, False
        try:
            listed = ownership.list_stores(access, paged=False, each_page=request.console_throttles.charge_next_page)
        except gateway.GatewayError as error:
            messages.error(request, f"The vector stores could not be listed: {error}")
        else:
            rows, truncated, fetched = [StoreRow.of(store) for store in listed.items], listed.has_more, True
        total = len(rows)
        if query:
            needle = query.casefold()
            rows = [row for row in rows if needle in row.name.casefold() or needle in row.id.casefold()]
        records = None
        if owner is not None:  # the records of every store, to filter by; else of the page's only
            records = ownership.records_of(access.credential, [row.id for row in rows])
            rows = [row for row in rows if _owned_by(records.get(row.id), owner)]
        rows, order = sort_rows(rows, order)
        page = Paginator(rows, self.stores_per_page).get_page(request.GET.get("p"))
        shown = list(page.object_list)
        if records is None:
            records = ownership.records_of(access.credential, [row.id for row in shown])
        count = page.paginator.count
        return {
            "stores": _with_records(shown, records),
            "matches": count,
            "total": total,
            "note": _fetched_note(order, query, owner, total if truncated else None) if fetched else "",
            "truncated": truncated,
            "pager": Pager(
                summary=ngettext("%(count)d vector store", "%(count)d vector stores", count) % {"count": count},
                links=_page_links(request, page),
            ),
        }

    def _cursor(self, request):
        """The page's cursor from the query string ({"after": id}, {"before": id} or {}); a cursor that is not
        an object id never reaches OpenAI: the first page is shown instead."""
        form = CursorForm(request.GET)
        if not form.is_valid():
            messages.warning(request, "That page link is not valid, so the first page is shown.")
        return form.cursor

    # --- create, change, delete --------------------------------------------------------------------

    def store_add(self, request, object_id):
        """A new store is the user's (and its group's, when they choose one of theirs)."""
        access = self.access(request, object_id, change=True)
        credential = access.credential
        form = StoreCreateForm(request.POST if request.method == "POST" else None, access=access)
        if request.method == "POST" and form.is_valid():
            group = form.cleaned_data.get("group")
            try:
                store, record = ownership.create_store(access, form.body, group)
            except gateway.GatewayError as error:
                messages.error(request, f"The vector store could not be created: {error}")
            else:
                ownership.record_store_files(replace(access, record_id=record.pk), form.body.get("file_ids", []))
                row = StoreRow.of(store)
                shared = f", shared with group {group.name}" if group else ""
                self.log_change(
                    request,
                    access,
                    f"Created vector store {row.label}{shared}.",
                    "create",
                    row.id,
                    form.body.get("file_ids", []),
                    store_owner=request.user.get_username(),
                )
                messages.success(request, f"The vector store {row.label} was created.")
                return HttpResponseRedirect(self.store_url(credential, row.id))
        return self.render(
            request,
            "store_form.html",
            credential,
            "Add vector store",
            {
                "subtitle": credential.name,
                "form": form,
                "adding": True,
            },
        )

    def _store_or_redirect(self, request, access, store_id):
        """(the store, None), or (None, a redirect to the list with the error as a message). A store OpenAI no
        longer has loses its record."""
        try:
            with ownership.forgetting_vanished_store(access, store_id, retrieving=True):
                return gateway.get_vector_store(access.credential, store_id), None
        except gateway.GatewayError as error:
            messages.error(request, f"The vector store {store_id} could not be read: {error}")
            return None, HttpResponseRedirect(self.console_url(access.credential))

    def store_change(self, request, object_id, store_id):
        access = self.access(request, object_id, store_id, change=True)
        credential = access.credential
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        form = StoreChangeForm(request.POST if request.method == "POST" else None, store=store)
        if request.method == "POST" and form.is_valid():
            if not form.body:
                messages.info(request, "No fields changed.")
                return HttpResponseRedirect(self.store_url(credential, store_id))
            try:
                with ownership.forgetting_vanished_store(access, store_id):
                    updated = gateway.update_vector_store(credential, store_id, form.body)
            except gateway.GatewayError as error:
                messages.error(request, f"The vector store could not be changed: {error}")
            else:
                ownership.remember_store(access, updated)
                changed = get_text_list(form.changed_labels(), "and")
                label = StoreRow.of(updated).label
                self.log_change(request, access, f"Changed {changed} of vector store {label}.", "update", store_id)
                messages.success(request, f"The vector store {label} was changed.")
                return HttpResponseRedirect(self.store_url(credential, store_id))
        return self.render(
            request,
            "store_form.html",
            credential,
            f"Change vector store {row.name or row.id}",
            {
                "subtitle": row.id,
                "form": form,
                "store": row,
            },
            store_id,
        )

    def store_delete(self, request, object_id, store_id):
        access = self.access(request, object_id, store_id, change=True)
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        form = DeleteStoreForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            deleted = self._delete_store(request, access, row, form.cleaned_data["delete_files"])
            if deleted:
                return HttpResponseRedirect(self.console_url(access.credential))
        return self.render(
            request,
            "store_delete.html",
            access.credential,
            "Are you sure?",
            {
                "store": row,
                "form": form,
            },
            store_id,
        )

    def _delete_store(self, request, access, row, delete_files):
        credential = access.credential
        try:
            removed = []
            if delete_files:
                files = gateway.list_store_files(
                    credential, row.id, paged=False, each_page=request.console_throttles.charge_next_page
                ).items
                removed = self._remove(request, access, row, [vs_file["id"] for vs_file in files], True, announce=False)
                if removed is None:
                    messages.error(request, f"The vector store {row.label} was not deleted.")
                    return False
            with ownership.forgetting_vanished_store(access, row.id):
                gateway.delete_vector_store(credential, row.id)
        except gateway.GatewayError as error:
            messages.error(request, f"The vector store {row.label} could not be deleted: {error}")
            return False
        ownership.forget_store(access)
        self.log_change(request, access, f"Deleted vector store {row.label}.", "destroy", row.id)
        message = f"The vector store {row.label} was deleted" + (
            ngettext(" with its %(count)d file.", " with its %(count)d files.", len(removed)) % {"count": len(removed)}
            if delete_files
            else "."
        )
        messages.success(request, message + _kept_note(removed))
        return True

    # --- whose a store is: reassigning one, importing those without a record --------------------------

    def store_owner(self, request, object_id, store_id):
        """Set the store's owner and group (for users who may manage stores); a store the site has no record
        of gets one."""
        access = self.access(request, object_id, store_id, change=True)
        credential = access.credential
        if not self.may_assign(request, credential):
            raise PermissionDenied
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        record = ownership.records_of(credential, [store_id]).get(store_id)
        form = StoreOwnerForm(request.POST if request.method == "POST" else None, credential=credential, record=record)
        if request.method == "POST" and form.is_valid():
            owner, group = form.cleaned_data["owner"], form.cleaned_data["group"]
            if record is not None and (owner, group) == (record.owner, record.group):
                messages.info(request, "The owner and the group are unchanged.")
                return HttpResponseRedirect(self.store_url(credential, store_id))
            previous = ownership.assign_store(
                credential, store, owner=owner, group=group, each_page=request.console_throttles.charge_next_page
            )
            if previous is None:
                message = f"Recorded vector store {row.label} with {_whose(owner, group)}."
            else:
                message = f"Assigned vector store {row.label} to {_whose(owner, group)} (it had {_whose(*previous)})."
            self.log_change(request, access, message, "assign_owner", store_id)
            messages.success(request, message)
            return HttpResponseRedirect(self.store_url(credential, store_id))
        return self.render(
            request,
            "store_owner.html",
            credential,
            f"Owner of vector store {row.name or row.id}",
            {
                "subtitle": row.id,
                "store": row,
                "record": record,
                "owner_form": form,
            },
            store_id,
        )

    def store_import(self, request, object_id):
        """The credential's stores at OpenAI that the site has no record of, assigned to an owner and a group
        (for users who may manage stores): those selected, or all listed."""
        access = self.access(request, object_id, change=True)
        credential = access.credential
        if not self.may_assign(request, credential):
            raise PermissionDenied
        try:
            unrecorded = ownership.unrecorded_stores(credential, each_page=request.console_throttles.charge_next_page)
        except gateway.GatewayError as error:
            messages.error(request, f"The vector stores could not be listed: {error}")
            unrecorded = NO_PAGE
        form = ImportStoresForm(
            request.POST if request.method == "POST" else None, credential=credential, stores=unrecorded.items
        )
        if request.method == "POST" and form.is_valid():
            owner, group = form.cleaned_data["owner"], form.cleaned_data["group"]
            recorded = ownership.import_stores(
                credential,
                form.chosen_stores(),
                owner=owner,
                group=group,
                each_page=request.console_throttles.charge_next_page,
            )
            message = ngettext(
                "Recorded %(count)d vector store with %(whose)s",
                "Recorded %(count)d vector stores with %(whose)s",
                len(recorded),
            ) % {"count": len(recorded), "whose": _whose(owner, group)}
            message += f": {_listed(recorded)}." if recorded else "."
            if recorded:
                self.log_change(request, access, message, "import", object_ids=recorded)
            messages.success(request, message)
            return HttpResponseRedirect(self.url("vector_store_import", credential.pk))
        page = Paginator([StoreRow.of(store) for store in unrecorded.items], self.stores_per_page).get_page(
            request.GET.get("p")
        )
        for row in page.object_list:
            row.url = self.store_url(credential, row.id)
        count = page.paginator.count
        return self.render(
            request,
            "store_import.html",
            credential,
            "Import vector stores",
            {
                "subtitle": credential.name,
                "stores": list(page.object_list),
                "count": count,
                "truncated": unrecorded.has_more,
                "list_max_items": app_settings.LIST_MAX_ITEMS,
                "import_form": form,
                "pager": Pager(
                    summary=ngettext(
                        "%(count)d vector store without a record", "%(count)d vector stores without a record", count
                    )
                    % {"count": count},
                    links=_page_links(request, page),
                ),
            },
        )

    # --- a store: files, search, upload -----------------------------------------------------------

    def store_detail(self, request, object_id, store_id):
        access = self.access(request, object_id, store_id)
        credential = access.credential
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        listing = self._files_listing(
            request,
            credential,
            store_id,
            row.files,
            lambda **params: gateway.list_store_files(credential, store_id, **params),
            "The files of the vector store could not be listed",
        )

        search_form = SearchForm(request.GET if "q" in request.GET else None)
        results = None
        if search_form.is_bound and search_form.is_valid():
            try:
                answer = gateway.search_store(credential, store_id, search_form.body)
            except gateway.GatewayError as error:
                messages.error(request, f"The search failed: {error}")
            else:
                results = search_results(answer, {file.id: file.filename for file in listing["files"]})
                for result in results:
                    result["url"] = self.file_url(credential, store_id, result["file_id"])

        record = ownership.records_of(credential, [store_id]).get(store_id) if access.record_id else None
        may_assign = self.may_assign(request, credential)
        extensions = app_settings.ALLOWED_EXTENSIONS or tuple(FILE_TYPES)
        return self.render(
            request,
            "store_detail.html",
            credential,
            row.name or row.id,
            {
                "subtitle": row.id if row.name else "",
                "store": row,
                **listing,
                "search_form": search_form,
                "results": results,
                "upload_form": UploadOptionsForm(),
                "attach_form": AttachFilesForm(),
                "record": record,
                "owner_form": StoreOwnerForm(credential=credential, record=record) if may_assign else None,
                "accept": ",".join(extensions),
                "accepted_types": ", ".join(extension.lstrip(".") for extension in extensions),
            },
            store_id,
        )

    def _files_listing(self, request, credential, store_id, counts, list_files, failure):
        """One page of files from OpenAI (`list_files(paged=True, ...)`: a store's or a batch's), newest first,
        filtered by the query string's status and paged with its cursor, with each file's name and page;
        `counts` (the store's or the batch's file counts) say how many there are in all."""
        status = request.GET.get("status")
        status = status if status in dict(FILE_STATUSES) else None
        cursor = self._cursor(request)
        try:
            listed = list_files(
                paged=True,
                order="desc",
                limit=min(self.files_per_page, UPSTREAM_MAX_LIMIT),
                **cursor,
                **({"filter": status} if status else {}),
            )
        except gateway.GatewayError as error:
            messages.error(request, f"{failure}: {error}")
            listed = NO_PAGE
        files = self._file_rows(request, credential, listed.items)
        for file in files:
            file.url = self.file_url(credential, store_id, file.id)
        count = len(files)
        # Every file when this is the only page; otherwise the counts (by status) say how many.
        total = count if not (cursor or listed.has_more) else (counts.count(status) if status else counts.total)
        if total >= count:
            summary = ngettext("%(count)d file", "%(count)d files", total) % {"count": total}
        else:  # the counts lag behind the files
            summary = ngettext("%(count)d file on this page", "%(count)d files on this page", count) % {"count": count}
        return {
            "files": files,
            "pager": _cursor_pager(request, listed, cursor, summary, anchor="#files"),
            "cursor": bool(cursor),
            "status": status,
            "status_links": _status_links(request, status),
        }

    def _file_rows(self, request, credential, vs_files, *, unnamed=()):
        """Rows of the files, with each file's name and size joined from the Files API (but for the ids
        `unnamed`: Files of another user, whose names the caller must not learn by typing their ids)."""
        if not vs_files:
            return []
        named = [f["id"] for f in vs_files if f["id"] not in unnamed]
        if charge(request, len(named)):  # one OpenAI call a file
            found = gateway.retrieve_files(credential, named)
        else:
            messages.warning(request, f"The files' names were not looked up: {TOO_MANY_FILES}")
            found = {}
        # The key's Files for other uses (fine-tuning data...) are not the site's to name, as on the API's routes.
        found = {
            file_id: file
            for file_id, file in found.items()
            if isinstance(file, gateway.GatewayError) or file.get("purpose") == PURPOSE
        }
        rows = [FileRow.of(vs_file, found.get(vs_file["id"])) for vs_file in vs_files]
        failed = [
            found[row.id]
            for row in rows
            if isinstance(found.get(row.id), gateway.GatewayError)
            and not isinstance(found[row.id], gateway.OpenAINotFound)
        ]
        if failed:
            messages.warning(
                request,
                ngettext(
                    "The name of %(count)d file could not be read: %(detail)s",
                    "The names of %(count)d files could not be read: %(detail)s",
                    len(failed),
                )
                % {"count": len(failed), "detail": failed[0]},
            )
        return rows

    # --- removing files -------------------------------------------------------------------------------

    def remove_files(self, request, object_id, store_id):
        access = self.access(request, object_id, store_id, change=True)
        credential = access.credential
        store_url = self.store_url(credential, store_id)
        if request.method != "POST":
            return HttpResponseRedirect(store_url)
        file_ids = request.POST.getlist("file_ids")
        if not file_ids:
            messages.warning(request, "Files must be selected in order to remove them. No files have been removed.")
            return HttpResponseRedirect(store_url)
        form = RemoveFilesForm(request.POST)
        form.is_valid()  # a single optional checkbox: always valid
        checked = RemoveFilesSerializer(data={"file_ids": file_ids, "delete_files": form.cleaned_data["delete_files"]})
        if not checked.is_valid():
            messages.error(request, f"No files have been removed: {summarise(checked.errors)}")
            return HttpResponseRedirect(store_url)
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        if request.POST.get("post") == "yes":
            self._remove(
                request, access, row, checked.validated_data["file_ids"], checked.validated_data["delete_files"]
            )
            return HttpResponseRedirect(store_url)
        file_ids = checked.validated_data["file_ids"]
        others = ownership.files_of_others(access, file_ids, besides_store=store_id)
        files = self._file_rows(request, credential, [{"id": file_id} for file_id in file_ids], unnamed=others)
        return self.render(
            request,
            "remove_files.html",
            credential,
            "Are you sure?",
            {
                "store": row,
                "files": files,
                "form": RemoveFilesForm(),
            },
            store_id,
        )

    def _remove(self, request, access, row, file_ids, delete_files, announce=True):
        """Remove the files from the store (and delete them, but for those a store of another user holds too);
        log and report. Returns the reports of the removed files, or None when any removal failed."""
        if not charge(request, len(file_ids)):  # one OpenAI call a file (two to delete it too)
            messages.error(request, f"No files have been removed: {TOO_MANY_FILES}")
            return None
        failed = None
        try:
            reports = ownership.remove_store_files(access, row.id, file_ids, delete_files=delete_files)
        except gateway.GatewayError as error:
            reports = error.report.get("files") or []
            failed = error
        removed = [report for report in reports if report.get("deleted")]
        if removed:
            deleted = [report["id"] for report in removed if report.get("file_deleted")]
            message = ngettext(
                "Removed %(count)d file from vector store %(store)s",
                "Removed %(count)d files from vector store %(store)s",
                len(removed),
            ) % {"count": len(removed), "store": row.label}
            message += f": {', '.join(report['id'] for report in removed)}."
            if deleted:
                message += f" Deleted from OpenAI: {', '.join(deleted)}."
            message += _kept_note(removed)
            self.log_change(request, access, message, "remove_files", row.id, [report["id"] for report in removed])
            if announce:
                messages.success(request, message)
        if failed:
            messages.error(request, f"Files could not be removed: {failed}")
            return None
        return removed

    # --- one file of a store: details, attributes, content, removal ----------------------------------------

    def file_detail(self, request, object_id, store_id, file_id):
        """The file's state, its File's name, its attributes (edited here: a POST, with the change permission)
        and the content OpenAI indexed."""
        editing = request.method == "POST"
        access = self.access(request, object_id, store_id, change=editing)
        credential = access.credential
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        try:
            vs_file = gateway.get_store_file(credential, store_id, file_id)
        except gateway.GatewayError as error:
            messages.error(request, f"The file {file_id} of vector store {row.label} could not be read: {error}")
            return HttpResponseRedirect(self.store_url(credential, store_id))
        file_url = self.file_url(credential, store_id, file_id)
        form = None
        if self.may(request, True, credential):
            form = FileAttributesForm(request.POST if editing else None, vs_file=vs_file)
        if editing and form.is_valid():
            if not form.changed:
                messages.info(request, "No attributes changed.")
                return HttpResponseRedirect(file_url)
            attributes = form.body["attributes"]
            try:
                gateway.update_store_file(credential, store_id, file_id, attributes)
            except gateway.GatewayError as error:
                messages.error(request, f"The attributes could not be changed: {error}")
            else:
                done = (
                    f"Changed the attributes of file {file_id} in vector store {row.label}"
                    if attributes
                    else f"Cleared the attributes of file {file_id} in vector store {row.label}"
                )
                keys = f": {', '.join(attributes)}." if attributes else "."
                self.log_change(request, access, done + keys, "update_file", store_id, [file_id])
                messages.success(request, done + keys)
                return HttpResponseRedirect(file_url)

        [file_row] = self._file_rows(request, credential, [vs_file])
        detail = FileDetail.of(vs_file, file_row)
        content = None
        if detail.row.status == "completed":
            try:
                whole = gateway.get_store_file_content(
                    credential, store_id, file_id, each_page=request.console_throttles.charge_next_page
                )
                content = FileContent.of(whole)
            except gateway.GatewayError as error:
                messages.error(request, f"The indexed content of file {file_id} could not be read: {error}")
        return self.render(
            request,
            "file_detail.html",
            credential,
            detail.row.filename or file_id,
            {
                "subtitle": file_id if detail.row.filename else "",
                "store": row,
                "file": detail,
                "form": form,
                "content": content,
                "content_limit": app_settings.LIST_MAX_ITEMS,
            },
            store_id,
            file_id=file_id,
        )

    def file_remove(self, request, object_id, store_id, file_id):
        """Asks, then detaches the file from the store (and with the box checked, deletes the File too)."""
        access = self.access(request, object_id, store_id, change=True)
        credential = access.credential
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        if request.method == "POST":
            form = RemoveFileForm(request.POST)
            form.is_valid()  # a single optional checkbox: always valid
            if request.POST.get("post") == "yes":
                self._remove(request, access, row, [file_id], form.cleaned_data["delete_files"])
                return HttpResponseRedirect(self.store_url(credential, store_id))
        else:
            form = RemoveFileForm(initial={"delete_files": request.GET.get("delete") == "1"})
        others = ownership.files_of_others(access, [file_id], besides_store=store_id)
        [file] = self._file_rows(request, credential, [{"id": file_id}], unnamed=others)
        return self.render(
            request,
            "file_remove.html",
            credential,
            "Are you sure?",
            {
                "store": row,
                "file": file,
                "form": form,
                "back_url": self.file_url(credential, store_id, file_id),
            },
            store_id,
            file_id=file_id,
        )

    # --- attaching existing files, and the file batch that does it ---------------------------------------

    def attach_files(self, request, object_id, store_id):
        """Attach existing Files in one file batch (not waited for), then follow the batch on its page."""
        access = self.access(request, object_id, store_id, change=True)
        credential = access.credential
        form = AttachFilesForm(request.POST if request.method == "POST" else None, access=access)
        if request.method == "POST" and form.is_valid():
            store, redirect = self._store_or_redirect(request, access, store_id)
            if redirect:
                return redirect
            row = StoreRow.of(store)
            try:
                batch = gateway.attach_files_to_store(credential, store_id, form.files, wait=False)
            except gateway.GatewayError as error:
                messages.error(request, f"The files could not be attached: {error}")
            else:
                ids = [entry["file_id"] for entry in form.files]
                ownership.record_store_files(access, ids)
                message = ngettext(
                    "Attached %(count)d file to vector store %(store)s in file batch %(batch)s",
                    "Attached %(count)d files to vector store %(store)s in file batch %(batch)s",
                    len(ids),
                ) % {"count": len(ids), "store": row.label, "batch": batch["id"]}
                message += f": {_listed(ids)}."
                self.log_change(request, access, message, "attach_files", store_id, [*ids, batch["id"]])
                messages.success(request, message)
                return HttpResponseRedirect(self.batch_url(credential, store_id, batch["id"]))
        else:
            row = StoreRow.of({"id": store_id})  # nothing asked of OpenAI for a form to fill or fix
        return self.render(
            request,
            "attach_files.html",
            credential,
            "Attach files",
            {
                "subtitle": row.label,
                "store": row,
                "attach_form": form,
            },
            store_id,
        )

    batch_poll_ms = 2000  # how often a batch page in progress asks for the batch's state

    def batch_detail(self, request, object_id, store_id, batch_id):
        """A file batch: its status and counts, its files (paged like a store's), a Cancel button while it is in
        progress. The page's script polls `?format=json` (the batch alone: one OpenAI call) until it is done."""
        access = self.access(request, object_id, store_id)
        credential = access.credential
        if request.GET.get("format") == "json":
            return self._batch_state(credential, store_id, batch_id)
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        try:
            batch = BatchRow.of(gateway.get_file_batch(credential, store_id, batch_id))
        except gateway.GatewayError as error:
            messages.error(request, f"The file batch {batch_id} could not be read: {error}")
            return HttpResponseRedirect(self.store_url(credential, store_id))
        listing = self._files_listing(
            request,
            credential,
            store_id,
            batch.files,
            lambda **params: gateway.list_batch_files(credential, store_id, batch_id, **params),
            "The files of the batch could not be listed",
        )
        return self.render(
            request,
            "batch_detail.html",
            credential,
            f"File batch {batch_id}",
            {
                "subtitle": row.label,
                "store": row,
                "batch": batch,
                "poll_ms": self.batch_poll_ms,
                **listing,
            },
            store_id,
            batch_id=batch_id,
        )

    def _batch_state(self, credential, store_id, batch_id):
        try:
            batch = BatchRow.of(gateway.get_file_batch(credential, store_id, batch_id))
        except gateway.GatewayError as error:
            return JsonResponse({"error": f"The file batch could not be read: {error}"}, status=502)
        return JsonResponse(
            {
                "id": batch.id,
                "status": batch.status,
                "final": batch.final,
                "status_text": batch.status_text,
                "counts_html": render_to_string(TEMPLATES + "file_counts.html", {"counts": batch.files}),
            }
        )

    def batch_cancel(self, request, object_id, store_id, batch_id):
        access = self.access(request, object_id, store_id, change=True)
        credential = access.credential
        batch_url = self.batch_url(credential, store_id, batch_id)
        if request.method != "POST":
            return HttpResponseRedirect(batch_url)
        store, redirect = self._store_or_redirect(request, access, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        try:
            batch = BatchRow.of(gateway.cancel_file_batch(credential, store_id, batch_id))
        except gateway.GatewayError as error:
            messages.error(request, f"The file batch {batch_id} could not be cancelled: {error}")
        else:
            message = f"Cancelled file batch {batch_id} of vector store {row.label}."
            self.log_change(request, access, message, "cancel_batch", store_id, [batch_id])
            messages.success(request, f"{message} {batch.status_text}")
        return HttpResponseRedirect(batch_url)

    # --- uploads (called by the upload endpoint once the files are in) ------------------------------------

    def uploaded(self, request, credential, store_id, files, shown=20):
        names = ", ".join(f"{file.get('filename')} ({file.get('id')})" for file in files[:shown])
        if len(files) > shown:
            names += f" and {len(files) - shown} more"
        message = ngettext(
            "Uploaded %(count)d file to vector store %(store)s",
            "Uploaded %(count)d files to vector store %(store)s",
            len(files),
        ) % {"count": len(files), "store": store_id}
        self.log(request, credential, f"{message}: {names}.")
        messages.success(request, f"{message}: {names}.")


def _listed(ids, shown=20):
    """Ids for a message: the first `shown`, and how many more."""
    text = ", ".join(ids[:shown])
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def _kept_note(reports):
    """What a removal's message says of the Files it only detached (gateway's `file_kept`), if any."""
    kept = [report["id"] for report in reports if report.get("file_kept")]
    if not kept:
        return ""
    return " " + ngettext(
        "Kept at OpenAI, as it is also in a vector store of another user: %(ids)s.",
        "Kept at OpenAI, as they are also in vector stores of other users: %(ids)s.",
        len(kept),
    ) % {"ids": _listed(kept)}


# --- owners ----------------------------------------------------------------------------------------


def _whose(owner, group):
    """An owner and a group in a message: "owner alice and group analysts", "no owner and group analysts"."""
    owner_text = f"owner {owner.get_username()}" if owner else "no owner"
    return f"{owner_text} and {f'group {group.name}' if group else 'no group'}"


def _with_records(rows, records):
    """`rows`, each with the site's record of its store (None for a store without one)."""
    for row in rows:
        row.record = records.get(row.id)
    return rows


def _owned_by(record, owner):
    """Whether the store of `record` (None: no record) has the owner named `owner` ("": none)."""
    return (record.owner.get_username() if record and record.owner else "") == owner


def _owner_links(request, access, current):
    """The list's filter by owner: every owner of a recorded store the user reaches, and "(none)"."""
    owners = [owner.get_username() for owner in ownership.store_owners(access)]

    def url(owner):
        return _query(request, owner=owner, p=None, after=None, before=None)

    return [
        {"label": "All", "url": url(None), "current": current is None},
        *({"label": owner, "url": url(owner), "current": current == owner} for owner in owners),
        {"label": "(none)", "url": url(""), "current": current == ""},
    ]


# --- query strings ----------------------------------------------------------------------------------


def _query(request, **changes):
    query = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def _headers(request, order):
    """The list's column headers: each sortable by a click, toggling when already sorted by it."""
    current, descending = order.lstrip("-"), order.startswith("-")
    headers = []
    for name, column in STORE_COLUMNS.items():
        sorted_here = name == current
        toggled = f"-{name}" if sorted_here and not descending else name
        headers.append(
            {
                "name": name,
                "label": column.label,
                "sorted": sorted_here,
                "ascending": sorted_here and not descending,
                "url": _query(request, o=toggled, p=None, after=None, before=None),
                "aria_sort": ("descending" if descending else "ascending") if sorted_here else None,
            }
        )
    return headers


def _page_links(request, page):
    if page.paginator.num_pages <= 1:
        return []
    links = []
    for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == page.paginator.ELLIPSIS:
            links.append({"ellipsis": True})
        else:
            links.append(
                {
                    "number": number,
                    "current": number == page.number,
                    "url": _query(request, p=number, after=None, before=None),
                }
            )
    return links


def _status_links(request, current):
    def url(status):
        return _query(request, status=status, p=None, after=None, before=None)

    return [{"label": "All", "url": url(None), "current": current is None}] + [
        {"label": label.capitalize(), "url": url(name), "current": current == name} for name, label in FILE_STATUSES
    ]


@dataclass
class Pager:
    """What is under a list: numbered links (a list paged here) or links that follow OpenAI's cursors."""

    summary: str  # e.g. "120 vector stores" or "50 vector stores on this page"
    links: list = field(default_factory=list)  # numbered pages
    first: str | None = None
    previous: str | None = None
    next: str | None = None


def _cursor_pager(request, page, cursor, summary, anchor=""):
    """The links around `page`, the page OpenAI returned for `cursor`. OpenAI's `has_more` says whether more
    objects lie ahead in the walk's direction: after the page for `after` (or no cursor), before it for
    `before`; the cursor's own object lies on the other side."""
    first_id = page.first_id or (page.items[0].get("id") if page.items else None)
    last_id = page.last_id or (page.items[-1].get("id") if page.items else None)
    backwards = "before" in cursor
    more_before = page.has_more if backwards else bool(cursor)
    more_after = bool(cursor) if backwards else page.has_more
    previous = _query(request, before=first_id, after=None, p=None) + anchor if more_before and first_id else None
    following = _query(request, after=last_id, before=None, p=None) + anchor if more_after and last_id else None
    first = (
        _query(request, after=None, before=None, p=None) + anchor if cursor and (previous or not page.items) else None
    )
    return Pager(summary=summary, first=first, previous=previous, next=following)


def _fetched_note(order, query, owner, truncated_at):
    """Why every store was fetched from OpenAI for this page (and, when LIST_MAX_ITEMS cut it, that too)."""
    reasons = []
    if query:
        reasons.append("Searched by name or id")
    if owner is not None:
        reasons.append("filtered by owner")
    if order.lstrip("-") not in UPSTREAM_ORDERS:
        reasons.append(f"sorted by {STORE_COLUMNS[order.lstrip('-')].phrase}")
    bound = app_settings.LIST_MAX_ITEMS
    note = " and ".join(reasons)
    note = f"{note[0].upper()}{note[1:]}: every vector store was fetched from OpenAI (up to {bound:,})."
    if truncated_at is not None:
        note += (
            f" There are more: only the newest {truncated_at:,} were fetched (LIST_MAX_ITEMS is {bound:,}), "
            f"so older ones are not in this list."
        )
    return note
