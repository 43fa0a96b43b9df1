"""The OpenAI-compatible routes: the API's viewset, answering in OpenAI's wire format.

What differs from the API (`vectorstores.api.views`): the credential comes from the URL, callers send
`Authorization: Bearer <token>`, lists answer OpenAI's page objects, errors OpenAI's envelope, attaching
one File is OpenAI's own call (answered at once, for the SDK to poll), and the `files` routes exist.
"""

import uuid

from django.utils.module_loading import import_string
from rest_framework import serializers
from rest_framework.response import Response

from .. import gateway, ownership
from ..api.exceptions import CredentialNotFound, FileInUse, FileNotFound
from ..api.long_calls import long_call_slot
from ..api.multipart import UploadParser
from ..api.parsers import JSONParser
from ..api.serializers import (
    AttachedFileSerializer,
    ContentQuerySerializer,
)
from ..api.views import VectorStoreViewSet, validated
from ..conf import app_settings
from .errors import openai_exception_handler
from .schema import wire_documented
from .serializers import PURPOSE, FileUploadSerializer
from .serializers import FileListQuerySerializer as UploadedFileListQuerySerializer

# OpenAI's hint of how long a poll should wait: passed on, so the SDK's polling helpers wait as OpenAI says.
POLL_HEADER = "openai-poll-after-ms"


@wire_documented
class OpenAICompatibleViewSet(VectorStoreViewSet):
    """Every route of vectorstores.openai_api.urls. The URL names the credential (`<uuid>/v1/...`)."""

    def get_authenticators(self):
        return [import_string(path)() for path in app_settings.OPENAI_API_AUTHENTICATION_CLASSES]

    def get_exception_handler(self):
        return openai_exception_handler

    def get_parsers(self):
        if self.action == "create_file":
            return [UploadParser(file_field="file")]
        return [JSONParser()]

    def requested_credential(self, request, url_kwargs):
        try:
            return uuid.UUID(url_kwargs["credential"])
        except ValueError:
            raise CredentialNotFound() from None  # no such credential, as for any unknown id

    def named_credential(self):
        return self.kwargs.get("credential", "")

    def paged(self, list_query):
        return True  # OpenAI's lists answer one page

    def page_response(self, request, page):
        """OpenAI's list object for a page."""
        return Response(
            {
                "object": "list",
                "data": page.items,
                "first_id": page.first_id,
                "last_id": page.last_id,
                "has_more": page.has_more,
            }
        )

    # Vector stores, their files and batches: the API's actions, answering as paged() and page_response() say.
    # (A route named `list` would be documented as answering an array: drf-spectacular's rule for `list`.)
    list_vector_stores = VectorStoreViewSet.list

    def create_store_file(self, request, store_id, **url_kwargs):
        body = validated(AttachedFileSerializer, request.data)
        self._attachable([body])
        store_file = gateway.attach_file_to_store(self.credential, store_id, **body)
        ownership.record_store_files(self.access, [body["file_id"]])
        return Response(store_file)

    def retrieve_file(self, request, store_id, file_id, **url_kwargs):
        return _answer_response(gateway.store_file_answer(self.credential, store_id, file_id))

    def detach_file(self, request, store_id, file_id, **url_kwargs):
        [report] = ownership.remove_store_files(self.access, store_id, [file_id], delete_files=False)
        return Response(report)

    def file_content(self, request, store_id, file_id, **url_kwargs):
        query = validated(ContentQuerySerializer, request.query_params)
        content = gateway.get_store_file_content(
            self.credential, store_id, file_id, page=query.get("page"), one_page=True
        )
        return Response(content.page)

    # --- file batches: create and cancel are the API's own ---

    def retrieve_file_batch(self, request, store_id, batch_id, **url_kwargs):
        return _answer_response(gateway.file_batch_answer(self.credential, store_id, batch_id))

    # --- Files: those uploaded here for the caller, and those in the stores they reach ---

    def create_file(self, request, **url_kwargs):
        with long_call_slot(request.user):  # one of the user's long calls, as the API's upload is
            body = self.validated_upload(request, FileUploadSerializer)
            file = ownership.upload_file(self.access, body["file"], expires_after=body.get("expires_after"))
        self.audit_objects(file["id"])
        return Response(file)

    def list_uploaded_files(self, request, **url_kwargs):
        query = validated(UploadedFileListQuerySerializer, request.query_params)
        try:
            return self.page_response(request, ownership.uploaded_files(self.access, **query))
        except ownership.UnknownCursor:
            raise serializers.ValidationError({"after": ["No File of this list has this id."]}) from None

    def retrieve_uploaded_file(self, request, file_id, **url_kwargs):
        self._reachable_file(file_id)
        file = self._file_for_vector_stores(file_id)
        ownership.remember_file(self.access, file)
        return Response(file)

    def delete_uploaded_file(self, request, file_id, **url_kwargs):
        self._reachable_file(file_id)
        if ownership.files_of_others(self.access, [file_id]):
            raise FileInUse()
        self._file_for_vector_stores(file_id)  # one GET first: never a File the key holds for other uses
        with ownership.forgetting_vanished_file(self.access, file_id):
            deleted = gateway.delete_file(self.credential, file_id)
        ownership.forget_files(self.credential, [file_id])
        return Response(deleted)

    def _file_for_vector_stores(self, file_id):
        """The File, if it is one for vector stores (purpose `assistants`): the key's other Files (fine-tuning
        data, batch inputs...) are not this site's to show or delete, even to those who reach every store."""
        with ownership.forgetting_vanished_file(self.access, file_id):
            file = gateway.get_file(self.credential, file_id)
        if file.get("purpose") != PURPOSE:
            raise FileNotFound()
        return file

    def _reachable_file(self, file_id):
        if not ownership.file_reachable(self.access, file_id):
            raise FileNotFound()


def _answer_response(answer):
    """OpenAI's object, with its poll interval hint when OpenAI gave one."""
    response = Response(answer.data)
    if answer.poll_after_ms is not None:
        response[POLL_HEADER] = str(answer.poll_after_ms)
    return response
