"""The audit trail: one row per API call by a signed-in user, written once the response has been sent."""

import functools
import logging
import time

from django.core.exceptions import TooManyFieldsSent
from django.db import connections, router
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request

from ..gateway import GatewayError, is_object_id
from ..models import AuditEntry

logger = logging.getLogger("vectorstores.api.audit")
METHOD_MAX_LENGTH = AuditEntry._meta.get_field("method").max_length
PATH_OBJECTS = ("file_id", "batch_id")  # the URL parameters that name a File or a file batch


class AuditTrailMixin:
    """For the API's viewset: records each call in AuditEntry with one INSERT, once the response is sent.

    Written whatever ends the call, an exception no handler answers included (then as a 500, at once).
    A failure to write is logged, never turned into a failed call.
    """

    # The store a call made (its id is not in the path), and the owner of the call's store, when known.
    audit_store_id = ""
    audit_store_owner = ""
    # Ids of the Files and file batches a call named in its body or made (those in its path are added).
    audit_object_ids = ()

    def dispatch(self, request, *args, **kwargs):
        self.audit_started = time.monotonic()
        response = None
        try:
            response = super().dispatch(request, *args, **kwargs)
            return response
        finally:
            user = _signed_in_user(getattr(self, "request", None))
            if user is not None:
                entry = self._audit_entry(user, response.status_code if response is not None else 500)
                if response is None:
                    _save(entry, self.request)
                else:
                    _save_when_closed(response, entry, self.request)

    def handle_exception(self, exc):
        if isinstance(exc, GatewayError):
            self.audit_objects(*exc.files_made)  # a failed upload's Files, those its cleanup deleted included
        return super().handle_exception(exc)

    def audit_objects(self, *object_ids):
        """Record, in this call's entry, Files or file batches it named in its body or made."""
        self.audit_object_ids = (*self.audit_object_ids, *object_ids)

    def named_credential(self):
        """The credential the caller asked for, as sent (a view that takes it from elsewhere says so)."""
        try:
            return self.request.query_params.get("credential", "")
        except TooManyFieldsSent:  # a query string Django refuses to read (the call's answer says so)
            return ""

    def _audit_entry(self, user, status_code):
        return _entry(
            user,
            self.credential,
            self.named_credential(),
            self.action or "",
            self.request.method,
            self.kwargs.get("store_id") or self.audit_store_id,
            self.audit_store_owner,
            [*self._path_object_ids(), *self.audit_object_ids],
            status_code,
            started=self.audit_started,
        )

    def _path_object_ids(self):
        # Only ids of OpenAI's shape: another ("file-a%20file-b") is refused, and would read as other ids here.
        return [self.kwargs[name] for name in PATH_OBJECTS if is_object_id(self.kwargs.get(name))]


def record_console_change(request, access, operation, store_id="", object_ids=(), store_owner=None):
    """Record a change the vector store console (in admin) made at OpenAI or in the site's records, in the audit
    trail as the API's calls are: operation `console_<operation>`, status 200. The console records only what it
    did (it shows its failures on the page); its uploads, an API view of its own, are recorded as the API's."""
    credential = access.credential
    owner = credential.store_owner if store_owner is None else store_owner
    entry = _entry(
        request.user,
        credential,
        str(credential.pk),
        f"console_{operation}",
        request.method,
        store_id,
        owner or "",
        object_ids,
        200,
        started=time.monotonic(),
    )
    _save(entry, request)


def _entry(
    user, credential, credential_ref, operation, method, store_id, store_owner, object_ids, status_code, started
):
    """An entry's values by field attribute (`user_id`, as AuditEntry(**values) would take them)."""
    return {
        "user_id": user.pk,
        "username": user.get_username()[:150],
        "credential_id": credential.pk if credential else None,
        "credential_name": credential.name if credential else "",
        "credential_ref": _text(credential_ref, 64),
        "operation": operation,
        "method": _text(method, METHOD_MAX_LENGTH),
        "vector_store_id": _text(store_id, 128),
        "store_owner": store_owner,
        "object_ids": " ".join(dict.fromkeys(object_ids)),
        "status_code": status_code,
        "duration_ms": round((time.monotonic() - started) * 1000),
    }


def _save_when_closed(response, entry, request):
    """Write `entry` when the server closes the response, once it has sent it: the caller never waits for
    the INSERT. Before the response's own close(), whose request_finished signal closes the connection."""
    close = response.close

    def close_after_saving():
        try:
            _save(entry, request)
        finally:
            close()

    response.close = close_after_saving


def _signed_in_user(request):
    """The caller if signed in, else None. A call refused before authentication (a 406) authenticates
    here, and a token or session that fails then makes it anonymous, not a 500; so does a host's
    UNAUTHENTICATED_USER = None."""
    if not isinstance(request, Request):
        return None  # the call ended before DRF took the request over
    try:
        user = request.user
    except exceptions.APIException:
        return None
    return user if user is not None and user.is_authenticated else None


def _save(entry, request):
    try:
        _insert(entry)
    except Exception:
        logger.exception("Could not write the audit entry of %s %s", request.method, request.path)


def _text(value, length):
    """What the caller sent, as any database stores it (PostgreSQL refuses NUL characters in text),
    so that no input can make the write fail."""
    return str(value).replace("\x00", "\ufffd")[:length]


def _insert(entry):
    """INSERT the entry with SQL written once per database, the values prepared as `AuditEntry(**entry)
    .save(force_insert=True)` would prepare them (created_at set as auto_now_add sets it): every call writes
    one, and the ORM spends more CPU building the model and the statement than the database spends running it."""
    alias = router.db_for_write(AuditEntry)
    connection = connections[alias]
    sql, fields = _insert_sql(alias)
    entry["created_at"] = timezone.now()
    params = [field.get_db_prep_save(entry[field.attname], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@functools.cache
def _insert_sql(alias):
    quote = connections[alias].ops.quote_name
    fields = [field for field in AuditEntry._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(AuditEntry._meta.db_table)} ({columns}) VALUES ({placeholders})", fields
