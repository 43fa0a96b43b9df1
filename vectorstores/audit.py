"""The audit trail: one row per API call by a signed-in user, written once the response has been sent."""
import logging
import time
from functools import partial

from rest_framework import exceptions

from .models import AuditEntry

logger = logging.getLogger("vectorstores.audit")


class AuditTrailMixin:
    """For the API's viewset: records each call in AuditEntry with one INSERT, once the response is sent.

    A failure to write is logged, never turned into a failed call.
    """

    def initial(self, request, *args, **kwargs):
        self.audit_started = time.monotonic()
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        user = _signed_in_user(request)
        if user is not None:
            entry = self._audit_entry(request, response, user)
            # The server closes the response once it has sent it, so the caller never waits for this
            # INSERT. Django runs a response's closers before request_finished closes the connection.
            response._resource_closers.append(partial(_save, entry, request))
        return response

    def _audit_entry(self, request, response, user):
        credential = self.credential
        return AuditEntry(
            user=user, username=user.get_username()[:150],
            credential=credential, credential_name=credential.name if credential else "",
            credential_ref=_text(request.query_params.get("credential", ""), 64),
            operation=self.action or "", method=request.method,
            vector_store_id=_text(self.kwargs.get("store_id", ""), 128),
            status_code=response.status_code,
            duration_ms=round((time.monotonic() - self.audit_started) * 1000),
        )


def _signed_in_user(request):
    """The caller if signed in, else None. A call refused before authentication (a 406) authenticates
    here, and a token or session that fails then makes it anonymous, not a 500."""
    try:
        user = request.user
    except exceptions.APIException:
        return None
    return user if user.is_authenticated else None


def _save(entry, request):
    try:
        entry.save(force_insert=True)
    except Exception:  # noqa: BLE001 (Django's response.close() would swallow it without a word)
        logger.exception("Could not write the audit entry of %s %s", request.method, request.path)


def _text(value, length):
    """What the caller sent, as any database stores it (PostgreSQL refuses NUL characters in text),
    so that no input can make the write fail."""
    return str(value).replace("\x00", "\ufffd")[:length]
