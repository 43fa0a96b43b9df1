"""The console's pages: a credential's vector stores, a store (its files, uploads, attaching existing files,
search), one file of a store (its attributes and indexed content), and a file batch (its progress).
Each one checks, in this order: a staff user (admin's login), the model permission (view to browse;
change to create, edit, delete, upload, attach, remove and cancel: otherwise 403),
and that the user may use the credential under the API's rules (otherwise 404, the same as for a
credential that does not exist). Every OpenAI call is a `vectorstores.gateway` function; its error
(a `GatewayError`) becomes an admin message with the error's text, and every change is written to the
credential's admin history (LogEntry)."""

import re
import uuid
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import re_path, reverse
from django.utils.text import get_text_list
from django.utils.translation import ngettext

from credentials.models import Credential

from .. import gateway
from ..api.exceptions import summarise
from ..api.serializers import OBJECT_ID, ListQuerySerializer, RemoveFilesSerializer
from ..conf import app_settings
from ..filetypes import FILE_TYPES
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
    RemoveFileForm,
    RemoveFilesForm,
    SearchForm,
    StoreChangeForm,
    StoreCreateForm,
    UploadOptionsForm,
)

TEMPLATES = "admin/vectorstores/console/"
STORE_ID = rf"(?P<store_id>{OBJECT_ID})"  # the API's object id rule
FILE_ID = rf"(?P<file_id>{OBJECT_ID})"
BATCH_ID = rf"(?P<batch_id>{OBJECT_ID})"
CREDENTIAL_ID = r"(?P<object_id>[0-9A-Fa-f-]{32,36})"
STORE_ID_PREFIX = "vs_"  # how OpenAI's vector store ids begin: a search for one is a single retrieve
UPSTREAM_MAX_LIMIT = ListQuerySerializer().fields["limit"].max_value  # OpenAI's largest page
NO_PAGE = gateway.Page([], False, None, None)


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
            return self.admin_site.admin_view(self._handle_unusable(view))

        root, store = rf"^{CREDENTIAL_ID}/vector-stores/", rf"{STORE_ID}/"
        file, batch = rf"{store}files/{FILE_ID}/", rf"{store}batches/{BATCH_ID}/"
        return [
            re_path(rf"{root}$", page(self.store_list), name=f"{self.info}_vector_stores"),
            re_path(rf"{root}add/$", page(self.store_add), name=f"{self.info}_vector_store_add"),
            re_path(rf"{root}{store}$", page(self.store_detail), name=f"{self.info}_vector_store"),
            re_path(rf"{root}{store}change/$", page(self.store_change), name=f"{self.info}_vector_store_change"),
            re_path(rf"{root}{store}delete/$", page(self.store_delete), name=f"{self.info}_vector_store_delete"),
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
        }
        if store_id:
            urls.update(
                {
                    name: self.url(f"vector_store{suffix}", credential.pk, store_id)
                    for name, suffix in [
                        ("store", ""),
                        ("change", "_change"),
                        ("delete", "_delete"),
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

    def usable_credential(self, request, object_id):
        """The credential `object_id` if the user may use it (the API's rule), else None."""
        try:
            pk = uuid.UUID(str(object_id))
        except ValueError:
            return None
        return Credential.objects.get_usable(request.user, pk)

    def may(self, request, change, credential=None):
        check = self.model_admin.has_change_permission if change else self.model_admin.has_view_permission
        return self.admin_site.has_permission(request) and check(request, credential)

    def credential(self, request, object_id, *, change=False):
        if not self.may(request, change):
            raise PermissionDenied
        credential = self.usable_credential(request, object_id)
        if credential is None:
            raise Http404("No such credential, or not one you may use.")
        if not self.may(request, change, credential):
            raise PermissionDenied
        try:
            gateway.check_usable(credential)
        except gateway.CredentialNotUsable as error:
            raise UnusableCredential(credential, error) from None
        credential.mark_used()
        return credential

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

    def log(self, request, credential, message):
        """Record a change in the credential's admin history."""
        self.model_admin.log_change(request, credential, message)

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
                "has_change_permission": self.may(request, True, credential),
                **context,
            },
        )

    # --- the list of vector stores ---------------------------------------------------------------

    def store_list(self, request, object_id):
        """Sorted by creation (OpenAI's own order) without a search: one page from OpenAI, with cursors
        to the previous and next. Any other sort, or a search: every store (up to LIST_MAX_ITEMS),
        sorted, searched and paged here, and a note on the page says so."""
        credential = self.credential(request, object_id)
        query = request.GET.get("q", "")
        order = store_order(request.GET.get("o", ""))
        if query:
            listing = self._stores_found(request, credential, query, order)
        elif upstream_order(order):
            listing = self._stores_paged(request, credential, order)
        else:
            listing = self._stores_fetched(request, credential, order)
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
                "headers": _headers(request, order),
                **listing,
            },
        )

    def _stores_paged(self, request, credential, order):
        """One page of stores from OpenAI, where the query string's cursor says."""
        cursor = self._cursor(request)
        try:
            page = gateway.list_vector_stores(
                credential,
                paged=True,
                order=upstream_order(order),
                limit=min(self.stores_per_page, UPSTREAM_MAX_LIMIT),
                **cursor,
            )
        except gateway.GatewayError as error:
            messages.error(request, f"The vector stores could not be listed: {error}")
            page = NO_PAGE
        count = len(page.items)
        if cursor or page.has_more:
            summary = ngettext("%(count)d vector store on this page", "%(count)d vector stores on this page", count)
        else:  # the only page: every store
            summary = ngettext("%(count)d vector store", "%(count)d vector stores", count)
        return {
            "stores": [StoreRow.of(store) for store in page.items],
            "pager": _cursor_pager(request, page, cursor, summary % {"count": count}),
            "cursor": bool(cursor),
        }

    def _stores_found(self, request, credential, query, order):
        """The stores whose name or id contains `query`; a whole store id is looked up by itself."""
        if query.startswith(STORE_ID_PREFIX) and re.fullmatch(OBJECT_ID, query):
            try:
                store = gateway.get_vector_store(credential, query)
            except gateway.OpenAINotFound:
                pass  # no store has this id: it may still be part of a name or of an id
            except gateway.GatewayError as error:
                messages.error(request, f"The vector stores could not be searched: {error}")
                return {"stores": [], "matches": 0, "pager": Pager(summary="")}
            else:
                return {
                    "stores": [StoreRow.of(store)],
                    "matches": 1,
                    "note": "Found by its id: this vector store was retrieved from OpenAI by itself.",
                    "pager": Pager(
                        summary=ngettext("%(count)d vector store", "%(count)d vector stores", 1) % {"count": 1}
                    ),
                }
        return self._stores_fetched(request, credential, order, query)

    def _stores_fetched(self, request, credential, order, query=""):
        """Every store (up to LIST_MAX_ITEMS), searched, sorted and paged here."""
        rows, truncated, fetched = [], False, False
        try:
            listed = gateway.list_vector_stores(credential, paged=False)
        except gateway.GatewayError as error:
            messages.error(request, f"The vector stores could not be listed: {error}")
        else:
            rows, truncated, fetched = [StoreRow.of(store) for store in listed.items], listed.has_more, True
        total = len(rows)
        if query:
            needle = query.casefold()
            rows = [row for row in rows if needle in row.name.casefold() or needle in row.id.casefold()]
        rows, order = sort_rows(rows, order)
        page = Paginator(rows, self.stores_per_page).get_page(request.GET.get("p"))
        count = page.paginator.count
        return {
            "stores": list(page.object_list),
            "matches": count,
            "total": total,
            "note": _fetched_note(order, query, total if truncated else None) if fetched else "",
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
        credential = self.credential(request, object_id, change=True)
        form = StoreCreateForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                store = gateway.create_vector_store(credential, form.body)
            except gateway.GatewayError as error:
                messages.error(request, f"The vector store could not be created: {error}")
            else:
                row = StoreRow.of(store)
                self.log(request, credential, f"Created vector store {row.label}.")
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

    def _store_or_redirect(self, request, credential, store_id):
        """(the store, None), or (None, a redirect to the list with the error as a message)."""
        try:
            return gateway.get_vector_store(credential, store_id), None
        except gateway.GatewayError as error:
            messages.error(request, f"The vector store {store_id} could not be read: {error}")
            return None, HttpResponseRedirect(self.console_url(credential))

    def store_change(self, request, object_id, store_id):
        credential = self.credential(request, object_id, change=True)
        store, redirect = self._store_or_redirect(request, credential, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        form = StoreChangeForm(request.POST if request.method == "POST" else None, store=store)
        if request.method == "POST" and form.is_valid():
            if not form.body:
                messages.info(request, "No fields changed.")
                return HttpResponseRedirect(self.store_url(credential, store_id))
            try:
                updated = gateway.update_vector_store(credential, store_id, form.body)
            except gateway.GatewayError as error:
                messages.error(request, f"The vector store could not be changed: {error}")
            else:
                changed = get_text_list(form.changed_labels(), "and")
                label = StoreRow.of(updated).label
                self.log(request, credential, f"Changed {changed} of vector store {label}.")
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
        credential = self.credential(request, object_id, change=True)
        store, redirect = self._store_or_redirect(request, credential, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        form = DeleteStoreForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            deleted = self._delete_store(request, credential, row, form.cleaned_data["delete_files"])
            if deleted:
                return HttpResponseRedirect(self.console_url(credential))
        return self.render(
            request,
            "store_delete.html",
            credential,
            "Are you sure?",
            {
                "store": row,
                "form": form,
            },
            store_id,
        )

    def _delete_store(self, request, credential, row, delete_files):
        try:
            removed = []
            if delete_files:
                files = gateway.list_store_files(credential, row.id, paged=False).items
                removed = self._remove(
                    request, credential, row, [vs_file["id"] for vs_file in files], True, announce=False
                )
                if removed is None:
                    return False
            gateway.delete_vector_store(credential, row.id)
        except gateway.GatewayError as error:
            messages.error(request, f"The vector store {row.label} could not be deleted: {error}")
            return False
        self.log(request, credential, f"Deleted vector store {row.label}.")
        messages.success(
            request,
            f"The vector store {row.label} was deleted"
            + (
                ngettext(" with its %(count)d file.", " with its %(count)d files.", len(removed))
                % {"count": len(removed)}
                if delete_files
                else "."
            ),
        )
        return True

    # --- a store: files, search, upload -----------------------------------------------------------

    def store_detail(self, request, object_id, store_id):
        credential = self.credential(request, object_id)
        store, redirect = self._store_or_redirect(request, credential, store_id)
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

    def _file_rows(self, request, credential, vs_files):
        """Rows of the files, with each file's name and size joined from the Files API."""
        if not vs_files:
            return []
        found = gateway.retrieve_files(credential, [vs_file["id"] for vs_file in vs_files])
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
        credential = self.credential(request, object_id, change=True)
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
        store, redirect = self._store_or_redirect(request, credential, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        if request.POST.get("post") == "yes":
            self._remove(
                request, credential, row, checked.validated_data["file_ids"], checked.validated_data["delete_files"]
            )
            return HttpResponseRedirect(store_url)
        file_ids = checked.validated_data["file_ids"]
        files = self._file_rows(request, credential, [{"id": file_id} for file_id in file_ids])
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

    def _remove(self, request, credential, row, file_ids, delete_files, announce=True):
        """Remove the files from the store (and delete them); log and report. Returns the removed ids, or
        None when any removal failed."""
        failed = None
        try:
            reports = gateway.remove_files_from_store(credential, row.id, file_ids, delete_files=delete_files)
        except gateway.GatewayError as error:
            reports = error.report.get("files") or []
            failed = error
        removed = [report["id"] for report in reports if report.get("deleted")]
        if removed:
            deleted = [report["id"] for report in reports if report.get("file_deleted")]
            message = ngettext(
                "Removed %(count)d file from vector store %(store)s",
                "Removed %(count)d files from vector store %(store)s",
                len(removed),
            ) % {"count": len(removed), "store": row.label}
            message += f": {', '.join(removed)}."
            if deleted:
                message += f" Deleted from OpenAI: {', '.join(deleted)}."
            self.log(request, credential, message)
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
        credential = self.credential(request, object_id, change=editing)
        store, redirect = self._store_or_redirect(request, credential, store_id)
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
                self.log(request, credential, done + keys)
                messages.success(request, done + keys)
                return HttpResponseRedirect(file_url)

        [file_row] = self._file_rows(request, credential, [vs_file])
        detail = FileDetail.of(vs_file, file_row)
        content = None
        if detail.row.status == "completed":
            try:
                content = FileContent.of(gateway.get_store_file_content(credential, store_id, file_id))
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
        credential = self.credential(request, object_id, change=True)
        store, redirect = self._store_or_redirect(request, credential, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        if request.method == "POST":
            form = RemoveFileForm(request.POST)
            form.is_valid()  # a single optional checkbox: always valid
            if request.POST.get("post") == "yes":
                self._remove(request, credential, row, [file_id], form.cleaned_data["delete_files"])
                return HttpResponseRedirect(self.store_url(credential, store_id))
        else:
            form = RemoveFileForm(initial={"delete_files": request.GET.get("delete") == "1"})
        [file] = self._file_rows(request, credential, [{"id": file_id}])
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
        credential = self.credential(request, object_id, change=True)
        form = AttachFilesForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            store, redirect = self._store_or_redirect(request, credential, store_id)
            if redirect:
                return redirect
            row = StoreRow.of(store)
            try:
                batch = gateway.attach_files_to_store(credential, store_id, form.files, wait=False)
            except gateway.GatewayError as error:
                messages.error(request, f"The files could not be attached: {error}")
            else:
                ids = [entry["file_id"] for entry in form.files]
                message = ngettext(
                    "Attached %(count)d file to vector store %(store)s in file batch %(batch)s",
                    "Attached %(count)d files to vector store %(store)s in file batch %(batch)s",
                    len(ids),
                ) % {"count": len(ids), "store": row.label, "batch": batch["id"]}
                message += f": {_listed(ids)}."
                self.log(request, credential, message)
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
        credential = self.credential(request, object_id)
        if request.GET.get("format") == "json":
            return self._batch_state(credential, store_id, batch_id)
        store, redirect = self._store_or_redirect(request, credential, store_id)
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
        credential = self.credential(request, object_id, change=True)
        batch_url = self.batch_url(credential, store_id, batch_id)
        if request.method != "POST":
            return HttpResponseRedirect(batch_url)
        store, redirect = self._store_or_redirect(request, credential, store_id)
        if redirect:
            return redirect
        row = StoreRow.of(store)
        try:
            batch = BatchRow.of(gateway.cancel_file_batch(credential, store_id, batch_id))
        except gateway.GatewayError as error:
            messages.error(request, f"The file batch {batch_id} could not be cancelled: {error}")
        else:
            message = f"Cancelled file batch {batch_id} of vector store {row.label}."
            self.log(request, credential, message)
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


def _fetched_note(order, query, truncated_at):
    """Why every store was fetched from OpenAI for this page (and, when LIST_MAX_ITEMS cut it, that too)."""
    reasons = []
    if query:
        reasons.append("Searched by name or id")
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
