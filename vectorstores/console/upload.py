"""The console's upload endpoint: the API's upload path behind the admin's session.

The page's script posts the files here (an XHR, so it can show the transfer's progress). The body
goes through exactly what the API's upload does: `LimitedTemporaryFileUploadHandler` streams it to
disk under the same limits, `UploadParser` checks the raw file names, `UploadSerializer` the file
types, and `gateway.upload_files_to_store` uploads and attaches them. Answers are JSON: the
uploaded File objects, or an error in the API's shape (`api_exception_handler`).

It is mounted with the console under the admin site, not the API's URLs, so it works however a
host site mounts (or authenticates) the API: session authentication with its CSRF check, staff
users with the change permission, and the credential rules of the API (404 otherwise).
"""
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import gateway
from ..exceptions import CredentialNotFound, CredentialUnreadable, PayloadTooLarge, api_exception_handler
from ..serializers import UploadSerializer
from ..uploads import LimitedTemporaryFileUploadHandler, UploadParser


class ConsoleUploadView(APIView):
    console = None  # the Console that routes this view (set by as_view)
    authentication_classes = [SessionAuthentication]  # enforces CSRF for the signed-in user
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [UploadParser]
    schema = None  # the admin's endpoint, not part of the API (nor of its OpenAPI document)
    credential = None

    def get_exception_handler(self):
        return api_exception_handler

    def initialize_request(self, request, *args, **kwargs):
        # Stream uploads to disk under the API's limits; set before anything reads the body.
        self.upload_handler = LimitedTemporaryFileUploadHandler(request)
        request.upload_handlers = [self.upload_handler]
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication (and CSRF), IsAuthenticated, throttles
        if not self.console.may(request, change=True):
            raise exceptions.PermissionDenied()
        credential = self.console.usable_credential(request, kwargs["object_id"])
        if credential is None:
            raise CredentialNotFound()
        if not self.console.may(request, change=True, credential=credential):
            raise exceptions.PermissionDenied()
        if not credential.api_key_readable:
            raise CredentialUnreadable()
        credential.mark_used()
        self.credential = credential

    def post(self, request, object_id, store_id):
        if not request.content_type.lower().startswith("multipart/form-data"):
            raise exceptions.UnsupportedMediaType(request.content_type)
        try:
            serializer = UploadSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
        except (RequestDataTooBig, TooManyFilesSent) as exc:  # Django's own global limits
            raise PayloadTooLarge(str(exc)) from None
        finally:
            # Whatever stopped the parse (a limit, a bad part, a client gone), no partial file stays.
            self.upload_handler.discard_partial_file()
        body = serializer.validated_data
        uploaded = gateway.upload_files_to_store(
            self.credential, store_id, body["files"], chunking_strategy=body.get("chunking_strategy")
        )
        self.console.uploaded(request._request, self.credential, store_id, uploaded)
        return Response(uploaded)
