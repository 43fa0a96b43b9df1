"""The vector store API: parse, check access, call the gateway, render."""

import functools
from contextlib import contextmanager, nullcontext
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.module_loading import import_string
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from .. import gateway, ownership
from ..conf import app_settings
from .audit import AuditTrailMixin
from .exceptions import CredentialNotFound, FileNotFound, StoreNotFound, api_exception_handler
from .long_calls import long_call_slot
from .multipart import StreamedUploadMixin, UploadParser
from .parsers import JSONParser
from .schema import document
from .serializers import (
    AttachFilesSerializer,
    ContentQuerySerializer,
    CreateQuerySerializer,
    CredentialQuerySerializer,
    DetachQuerySerializer,
    FileBatchSerializer,
    FileListQuerySerializer,
    ListQuerySerializer,
    RemoveFilesSerializer,
    SearchSerializer,
    UpdateFileSerializer,
    VectorStoreCreateSerializer,
    VectorStoreUpdateSerializer,
    WaitQuerySerializer,
    object_id_validator,
    refuse_repeated,
)
from .throttling import ChargedThrottlesMixin
from .transactions import outside_request_transactions

# The path's ids, each checked by the object id rule before anything else (with its name in errors).
PATH_IDS = {"store_id": "id", "file_id": "file_id", "batch_id": "batch_id"}


class VectorStoreViewSet(AuditTrailMixin, StreamedUploadMixin, ChargedThrottlesMixin, viewsets.ViewSet):
    """Every action names a credential (?credential=<uuid>) the caller may use.

    The host's authentication classes apply. Actions take `**host_url_kwargs`: the parameters a host's
    own URL prefix captures (e.g. a version) reach DRF's versioning, and the actions ignore them.
    """

    # JSON only: the API is documented by its OpenAPI pages, not DRF's browsable HTML.
    renderer_classes = [JSONRenderer]
    # Documented by drf-spectacular (schema/), whatever the host's DEFAULT_SCHEMA_CLASS.
    schema = AutoSchema()
    # No OPTIONS answer: DRF's would describe the view from its docstring; the OpenAPI document describes it.
    # (Left out of the methods too, so that a 405's Allow header does not offer it.)
    metadata_class = None
    http_method_names = [name for name in viewsets.ViewSet.http_method_names if name != "options"]
    # Set per request by check_access(): the credential this call uses, and what it lets the caller reach.
    credential = None
    access = None

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        return outside_request_transactions(super().as_view(actions, **initkwargs))

    def get_permissions(self):
        """Signed-in callers only, always; and then the host's own rules (see the PERMISSION_CLASSES setting)."""
        configured = app_settings.PERMISSION_CLASSES
        classes = api_settings.DEFAULT_PERMISSION_CLASSES if configured is None else map(import_string, configured)
        return [IsAuthenticated(), *(permission() for permission in classes)]

    def perform_authentication(self, request):
        try:
            super().perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)  # guessing tokens counts against the caller's anonymous rate
            raise

    def permission_denied(self, request, message=None, code=None):
        # DRF checks throttles after permissions, so without this an anonymous caller is answered 401
        # forever and never counted: its rate (per IP) applies to refused calls too.
        if request.authenticators and not request.successful_authenticator:
            self.check_throttles(request)
        super().permission_denied(request, message, code)

    def get_exception_handler(self):
        # Our error shape without asking the host site to change EXCEPTION_HANDLER.
        return api_exception_handler

    def get_parsers(self):
        if self.action == "upload_files":
            return [UploadParser()]
        return [JSONParser()]

    def initialize_request(self, request, *args, **kwargs):
        # DRF sets self.action after building the Request, but get_parsers needs it first.
        self.action = self.action_map.get(request.method.lower())
        return super().initialize_request(request, *args, **kwargs)

    def check_access(self, request, *args, **kwargs):
        """After DRF's authentication, permissions and throttles, before any of the body is read."""
        for name, shown in PATH_IDS.items():
            if name in kwargs:
                try:
                    object_id_validator(kwargs[name])
                except DjangoValidationError as error:
                    raise serializers.ValidationError({shown: error.messages}) from None
        try:
            self.access = ownership.usable_credential(
                request.user, self.requested_credential(request, kwargs), kwargs.get("store_id")
            )
        except ownership.StoreNotReachable as refused:
            # Recorded without the store's owner: the caller may read their own entries, and the 404 must
            # tell them nothing of whose the store is (the store id leads a manager to its record).
            self.credential = refused.access.credential
            raise StoreNotFound() from None
        if self.access is None:
            raise CredentialNotFound()
        self._audit_access(self.access)
        gateway.check_usable(self.credential)
        self.credential.mark_used()

    def requested_credential(self, request, url_kwargs):
        """The id of the credential the call names: `?credential=<uuid>`, validated."""
        return validated_value(CredentialQuerySerializer, "credential", request.query_params)

    def paged(self, list_query):
        """Whether a list answers one page (or every object): as its query asks (ListQuerySerializer.paged)."""
        return list_query.paged

    def page_response(self, request, page):
        """The page's objects as a JSON array; a Link header names the next page when there is one."""
        response = Response(page.items)
        if page.has_more and page.last_id:
            response["Link"] = f'<{_this_url_with(request, before=None, after=page.last_id)}>; rel="next"'
        return response

    def _audit_access(self, access):
        self.credential = access.credential
        self.audit_store_owner = access.credential.store_owner or ""

    @document.list_vector_stores
    def list(self, request, **host_url_kwargs):
        query = ListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            page = ownership.list_stores(
                self.access, paged=self.paged(query), each_page=self.charge_next_page, **query.validated_data
            )
        except ownership.UnknownCursor as unknown:
            raise serializers.ValidationError({unknown.name: ["No vector store of this list has this id."]}) from None
        return self.page_response(request, page)

    @document.create_vector_store
    def create(self, request, **host_url_kwargs):
        group_name = validated(CreateQuerySerializer, request.query_params).get("group")
        group = None
        if group_name is not None:
            group = ownership.group_for_new_store(self.access, group_name)
            if group is None:
                raise serializers.ValidationError({"group": ["You are in no group of this name."]})
        fields = validated(VectorStoreCreateSerializer, request.data)
        file_ids = fields.get("file_ids") or []
        self._attachable([{"file_id": file_id} for file_id in file_ids])
        store, record = ownership.create_store(self.access, fields, group)
        self.audit_store_id, self.audit_store_owner = store["id"], request.user.get_username()
        self.access.record_id = record.pk
        ownership.record_store_files(self.access, file_ids)
        return Response(store)

    @document.get_vector_store
    def retrieve(self, request, store_id, **host_url_kwargs):
        with ownership.forgetting_vanished_store(self.access, store_id, retrieving=True):
            return Response(gateway.get_vector_store(self.credential, store_id))

    @document.update_vector_store
    def update(self, request, store_id, **host_url_kwargs):
        fields = validated(VectorStoreUpdateSerializer, request.data)
        with ownership.forgetting_vanished_store(self.access, store_id):
            store = gateway.update_vector_store(self.credential, store_id, fields)
        ownership.remember_store(self.access, store)
        return Response(store)

    @document.delete_vector_store
    def destroy(self, request, store_id, **host_url_kwargs):
        with ownership.forgetting_vanished_store(self.access, store_id):
            deleted = gateway.delete_vector_store(self.credential, store_id)
        ownership.forget_store(self.access)
        return Response(deleted)

    @document.upload_files
    def upload_files(self, request, store_id, **host_url_kwargs):
        wait = validated(WaitQuerySerializer, request.query_params)["wait"]
        with long_call_slot(request.user):  # taken before a byte of the body is read
            body = self.validated_upload(request)
            self.charge_throttles(len(body["files"]))
            uploaded = ownership.upload_files_to_store(
                self.access,
                store_id,
                body["files"],
                chunking_strategy=body.get("chunking_strategy"),
                attributes=body.get("attributes"),
                wait=wait,
            )
        self.audit_objects(*(file["id"] for file in uploaded.files), uploaded.batch["id"])
        return Response(uploaded.files) if wait else self._batch_accepted(request, store_id, uploaded.batch)

    @document.attach_files
    def attach_files(self, request, store_id, **host_url_kwargs):
        wait = validated(WaitQuerySerializer, request.query_params)["wait"]
        with long_call_slot(request.user) if wait else nullcontext():  # taken before the body is read
            body = AttachFilesSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            files = self._attachable(body.attached_files())
            with self._recording_attached(files):
                batch = gateway.attach_files_to_store(self.credential, store_id, files, wait=wait)
        self.audit_objects(batch["id"])
        if not wait:
            return self._batch_accepted(request, store_id, batch)
        if "file_id" in body.validated_data:  # one file: its vector store file, processed
            return Response(gateway.get_store_file(self.credential, store_id, body.validated_data["file_id"]))
        return Response(batch)

    def _attachable(self, files):
        """`files`, unless one is a File in a store the caller cannot reach: then, for them, no such File."""
        file_ids = [file["file_id"] for file in files]
        self.audit_objects(*file_ids)
        if ownership.files_of_others(self.access, file_ids, attaching=True):
            raise FileNotFound()
        return files

    @contextmanager
    def _recording_attached(self, files):
        """Record the attached Files once the batch exists, also when it then fails (some may be in)."""
        file_ids = [file["file_id"] for file in files]
        try:
            yield
        except gateway.BatchError:
            ownership.record_store_files(self.access, file_ids)
            raise
        ownership.record_store_files(self.access, file_ids)

    def _batch_accepted(self, request, store_id, batch):
        """202 with the batch as it was created, and a Location to follow it at."""
        response = Response(batch, status=status.HTTP_202_ACCEPTED)
        route = f"{request.resolver_match.namespace}:vector-store-file-batch"
        path = reverse(route, kwargs={**self.kwargs, "store_id": store_id, "batch_id": batch["id"]})
        response["Location"] = (
            request.build_absolute_uri(path) + "?" + urlencode({"credential": request.query_params["credential"]})
        )
        return response

    @document.get_file
    def retrieve_file(self, request, store_id, file_id, **host_url_kwargs):
        return Response(gateway.get_store_file(self.credential, store_id, file_id))

    @document.update_file
    def update_file(self, request, store_id, file_id, **host_url_kwargs):
        body = validated(UpdateFileSerializer, request.data)
        return Response(gateway.update_store_file(self.credential, store_id, file_id, body["attributes"]))

    @document.detach_file
    def detach_file(self, request, store_id, file_id, **host_url_kwargs):
        query = validated(DetachQuerySerializer, request.query_params)
        [report] = ownership.remove_store_files(self.access, store_id, [file_id], delete_files=query["delete_file"])
        return Response(report)

    @document.file_content
    def file_content(self, request, store_id, file_id, **host_url_kwargs):
        query = validated(ContentQuerySerializer, request.query_params)
        content = gateway.get_store_file_content(
            self.credential, store_id, file_id, page=query.get("page"), each_page=self.charge_next_page
        )
        response = Response(content.page)
        if content.next_page:
            response["Link"] = f'<{_this_url_with(request, page=content.next_page)}>; rel="next"'
        return response

    @document.create_file_batch
    def create_file_batch(self, request, store_id, **host_url_kwargs):
        body = validated(FileBatchSerializer, request.data)
        files = self._attachable(body.get("files") or [{"file_id": file_id} for file_id in body["file_ids"]])
        batch = gateway.create_file_batch(self.credential, store_id, **body).data
        self.audit_objects(batch["id"])
        ownership.record_store_files(self.access, [file["file_id"] for file in files])
        return Response(batch)

    @document.get_file_batch
    def retrieve_file_batch(self, request, store_id, batch_id, **host_url_kwargs):
        return Response(gateway.get_file_batch(self.credential, store_id, batch_id))

    @document.cancel_file_batch
    def cancel_file_batch(self, request, store_id, batch_id, **host_url_kwargs):
        return Response(gateway.cancel_file_batch(self.credential, store_id, batch_id))

    @document.list_batch_files
    def list_batch_files(self, request, store_id, batch_id, **host_url_kwargs):
        query = FileListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = gateway.list_batch_files(
            self.credential,
            store_id,
            batch_id,
            paged=self.paged(query),
            each_page=self.charge_next_page,
            **query.validated_data,
        )
        return self.page_response(request, page)

    @document.remove_files
    def remove_files(self, request, store_id, **host_url_kwargs):
        body = validated(RemoveFilesSerializer, request.data)
        self.audit_objects(*body["file_ids"])
        self.charge_throttles(len(body["file_ids"]))
        return Response(
            ownership.remove_store_files(self.access, store_id, body["file_ids"], delete_files=body["delete_files"])
        )

    @document.list_files
    def list_files(self, request, store_id, **host_url_kwargs):
        query = FileListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        with ownership.forgetting_vanished_store(self.access, store_id):
            page = gateway.list_store_files(
                self.credential,
                store_id,
                paged=self.paged(query),
                each_page=self.charge_next_page,
                **query.validated_data,
            )
        return self.page_response(request, page)

    @document.search
    def search(self, request, store_id, **host_url_kwargs):
        params = validated(SearchSerializer, request.data)
        with ownership.forgetting_vanished_store(self.access, store_id):
            return Response(gateway.search_store(self.credential, store_id, params))


def validated(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validated_value(serializer_class, name, data):
    """`validated(serializer_class, data)[name]`, without making a serializer, which copies its fields each time:
    every API call validates its ?credential. Only for a serializer that validates nothing beyond its fields."""
    field = _fields_alone(serializer_class)[name]
    if hasattr(data, "getlist"):
        refuse_repeated(data, [name])
    try:
        return field.run_validation(field.get_value(data))
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: error.detail}) from None


@functools.cache
def _fields_alone(serializer_class):
    """The bound fields of one `serializer_class` (a field keeps no state while it validates), if its fields are
    all it validates."""
    serializer = serializer_class()
    if (
        serializer_class.validate is not serializers.Serializer.validate
        or any(hasattr(serializer, f"validate_{name}") for name in serializer.fields)
        or getattr(getattr(serializer_class, "Meta", None), "validators", None)
    ):
        raise TypeError(f"{serializer_class.__name__} validates more than its fields: use validated()")
    return serializer.fields


def _this_url_with(request, **changes):
    """This request's URL with the query parameters `changes` set (or, given None, removed)."""
    query = request.query_params.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    return request.build_absolute_uri(request.path) + "?" + urlencode(query, doseq=True)
