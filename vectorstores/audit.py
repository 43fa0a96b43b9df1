"""The audit trail: one row per API call by a signed-in user, written as the response is finalised."""
import logging
import time

from django.db import DatabaseError

from .models import AuditEntry

logger = logging.getLogger("vectorstores.audit")


class AuditTrailMixin:
    """For the API's viewset: records each call in AuditEntry with one INSERT.

    A failure to write is logged, never turned into a failed call.
    """

    def initial(self, request, *args, **kwargs):
        self.audit_started = time.monotonic()
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(self, "audit_started"):
            self._record(request, response, user)
        return response

    def _record(self, request, response, user):
        credential = self.credential
        try:
            AuditEntry.objects.create(
                user=user, username=user.get_username()[:150],
                credential=credential, credential_name=credential.name if credential else "",
                credential_ref=_text(request.query_params.get("credential", ""), 64),
                operation=self.action or "", method=request.method,
                vector_store_id=_text(self.kwargs.get("store_id", ""), 128),
                status_code=response.status_code,
                duration_ms=round((time.monotonic() - self.audit_started) * 1000),
            )
        except DatabaseError:
            logger.exception("Could not write the audit entry of %s %s", request.method, request.path)


def _text(value, length):
    """What the caller sent, as any database stores it (PostgreSQL refuses NUL characters in text),
    so that no input can make the write fail."""
    return str(value).replace("\x00", "\ufffd")[:length]
