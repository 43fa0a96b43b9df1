"""The console's upload endpoint: the API's upload path behind the admin's session.

The page's script posts the files here (an XHR, so it can show the transfer's progress). The body
goes through exactly what the API's upload does (`StreamedUploadMixin`): `LimitedTemporaryFileUploadHandler`
streams it to disk under the same limits, `UploadParser` checks the raw file names, `UploadSerializer`
the file types, and `ownership.upload_files_to_store` uploads and attaches them. Answers are JSON: the
uploaded File objects, or an error in the API's shape (`api_exception_handler`).

It is mounted with the console under the admin site, not the API's URLs, so it works however a
host site mounts (or authenticates) the API: session authentication with its CSRF check, staff
users with the change permission, and the credential and store rules of the API (404 otherwise, for a
store of another user as for an unknown credential). The uploaded Files are recorded as the store's,
as the API records them.
"""

from django.http import Http404
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import ownership
from ..api.audit import AuditTrailMixin
from ..api.exceptions import CredentialNotFound, api_exception_handler
from ..api.long_calls import long_call_slot
from ..api.multipart import StreamedUploadMixin, UploadParser
from ..api.throttling import ChargedThrottlesMixin
from ..api.transactions import outside_request_transactions
from .views import UnusableCredential


class ConsoleUploadView(AuditTrailMixin, StreamedUploadMixin, ChargedThrottlesMixin, APIView):
    console = None  # the Console that routes this view (set by as_view)
    authentication_classes = [SessionAuthentication]  # enforces CSRF for the signed-in user
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [UploadParser]
    schema = None  # the admin's endpoint, not part of the API (nor of its OpenAPI document)
    access = None  # what the user reaches with the credential (set by check_access)
    credential = None  # its credential, for the audit trail
    action = "console_upload_files"  # the audit trail's operation

    @classmethod
    def as_view(cls, **initkwargs):
        return outside_request_transactions(super().as_view(**initkwargs))

    def get_exception_handler(self):
        return api_exception_handler

    def check_access(self, request, *args, **kwargs):
        # The console's own check (Django's PermissionDenied becomes the API's 403), in the API's words.
        try:
            self.access = self.console.access(request, kwargs["object_id"], kwargs["store_id"], change=True)
        except Http404:
            raise CredentialNotFound() from None
        except UnusableCredential as unusable:
            raise unusable.error from None
        self.credential = self.access.credential
        self.audit_store_owner = self.credential.store_owner or ""

    def named_credential(self):
        return self.kwargs["object_id"]

    def post(self, request, object_id, store_id):
        with long_call_slot(request.user):  # one of the user's long calls, as the API's upload is
            body = self.validated_upload(request)
            self.charge_throttles(len(body["files"]))  # as the API's upload counts: once per file
            upload = ownership.upload_files_to_store(
                self.access, store_id, body["files"], chunking_strategy=body.get("chunking_strategy")
            )
        credential = self.access.credential
        uploaded = upload.files
        self.audit_objects(*(file["id"] for file in uploaded), upload.batch["id"])
        # The admin's messages and history take Django's request: DRF documents `_request` as the way to it.
        self.console.uploaded(request._request, credential, store_id, uploaded)
        return Response(uploaded)
