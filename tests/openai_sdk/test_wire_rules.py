"""The promises of the API hold on the OpenAI-compatible routes too: authentication and its challenge,
validation before anything goes upstream, upload limits and file types with nothing left on disk, who may
see, attach and delete a File, OpenAI's faults mapped to the SDK's error classes, no File left behind by a
lost answer, OpenAI's poll hint passed on, and the routes' own tag in the OpenAPI document."""

import io
import json
import uuid
from types import SimpleNamespace

import httpx2
import openai
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from tests.conftest import client_for, text_file
from tests.openai_sdk.conftest import WIRE_ROOT, text, wire_base_url
from vectorstores.models import FileRecord, StoreRecord
from vectorstores.openai_api.authentication import BearerTokenAuthentication

pytestmark = pytest.mark.subprocess


def raw_get(url, **headers):
    with httpx2.Client() as client:
        return client.get(url, headers=headers)


# --- authentication and routes ---


def test_a_call_without_a_valid_token_is_challenged_for_a_bearer_token(live_server, credential):
    answer = raw_get(wire_base_url(live_server.url, credential.pk) + "/vector_stores", Authorization="Bearer nope")

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    error = answer.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("authentication_error", "authentication_failed", None)


class HostToken(BaseAuthentication):
    """A host site's own tokens: here, `Bearer host-<username>`."""

    def authenticate(self, request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token.startswith("host-"):
            return None
        user = get_user_model().objects.filter(username=token.removeprefix("host-")).first()
        if user is None:
            raise exceptions.AuthenticationFailed("No such host token.")
        return user, token

    def authenticate_header(self, request):
        return "Bearer"


def test_a_host_site_plugs_in_its_own_tokens(settings, sdk, sdk_for, user, store):
    settings.OPENAI_VECTOR_STORES = {"OPENAI_API_AUTHENTICATION_CLASSES": [f"{__name__}.HostToken"]}

    assert sdk_for(user, api_key=f"host-{user.username}").vector_stores.retrieve(store["id"]).id == store["id"]
    with pytest.raises(openai.AuthenticationError):  # DRF's tokens no longer count here
        sdk.vector_stores.retrieve(store["id"])


def test_other_paths_answer_openais_404(live_server, credential):
    answer = raw_get(wire_base_url(live_server.url, credential.pk) + "/assistants")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found_error" and answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("credential_id", [uuid.uuid4(), "not-a-uuid"], ids=["unknown", "not a uuid"])
def test_a_credential_that_is_none_of_the_users_is_not_found(sdk_for, user, fake_openai, credential_id):
    with pytest.raises(openai.NotFoundError) as unknown:
        sdk_for(user, SimpleNamespace(pk=credential_id)).vector_stores.list()
    assert unknown.value.body["code"] == "credential_not_found"
    assert fake_openai.requests == []


# --- validation before upstream ---


def test_an_invalid_body_never_reaches_openai(sdk, fake_openai):
    with pytest.raises(openai.BadRequestError) as unknown_field:
        sdk.vector_stores.create(name="x", extra_body={"colour": "red"})
    assert unknown_field.value.body["param"] == "colour"
    with pytest.raises(openai.BadRequestError) as too_deep:
        sdk.vector_stores.create(expires_after={"anchor": "last_active_at", "days": 0})
    assert too_deep.value.body["param"] == "expires_after.days"
    assert fake_openai.requests_to("POST", "/vector_stores") == []


def test_a_refused_upload_sends_nothing_and_leaves_nothing_on_disk(sdk, fake_openai, upload_dir):
    with pytest.raises(openai.BadRequestError) as wrong_type:
        sdk.files.create(file=("tool.exe", io.BytesIO(b"MZ..."), "application/octet-stream"), purpose="assistants")
    assert wrong_type.value.body["param"] == "file"
    with pytest.raises(openai.BadRequestError) as wrong_purpose:
        sdk.files.create(file=text("notes.txt"), purpose="fine-tune")
    assert wrong_purpose.value.body["param"] == "purpose"
    with pytest.raises(openai.BadRequestError) as empty:
        sdk.files.create(file=text("empty.txt", b""), purpose="assistants")
    assert "empty" in empty.value.body["message"]

    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []


def test_an_upload_over_the_size_limit_is_413(sdk, settings, fake_openai, upload_dir):
    settings.OPENAI_VECTOR_STORES = {"MAX_FILE_SIZE": 16}
    with pytest.raises(openai.APIStatusError) as too_large:
        sdk.files.create(file=text("big.txt", b"x" * 17), purpose="assistants")
    assert too_large.value.status_code == 413 and too_large.value.body["code"] == "payload_too_large"
    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []


def test_an_upload_passes_its_expiry_on(sdk, fake_openai):
    file = sdk.files.create(
        file=text("short-lived.txt"), purpose="assistants", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    [sent] = fake_openai.requests_to("POST", "/files")
    assert sent.form["expires_after[seconds]"] == "3600"
    assert file.expires_at == file.created_at + 3600


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("expires_after[seconds]", SimpleUploadedFile("3600.txt", b"3600")),
        ("purpose", SimpleUploadedFile("assistants", b"x")),
        ("expires_after[seconds]", " 36_00 "),
    ],
    ids=["seconds as a file", "purpose as a file", "seconds not digits"],
)
def test_an_upload_part_of_the_wrong_form_is_a_400(user, credential, fake_openai, upload_dir, part, value):
    client = client_for(user, "Bearer")
    form = {"file": text_file("notes.txt"), "purpose": "assistants", "expires_after[anchor]": "created_at"}
    form[part] = value
    response = client.post(f"/api/openai/{credential.pk}/v1/files", form, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] == part
    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []


# --- whose File it is ---


@pytest.fixture
def alices_file(sdk_for, alice, owned_credential):
    return sdk_for(alice, owned_credential).files.create(file=text("alice.txt"), purpose="assistants")


def test_the_file_of_another_user_is_not_found(sdk_for, bob, owned_credential, alices_file, fake_openai):
    bobs = sdk_for(bob, owned_credential)
    bobs_store = bobs.vector_stores.create(name="Bob's")

    for attempt in (
        lambda: bobs.files.retrieve(alices_file.id),
        lambda: bobs.files.delete(alices_file.id),
        lambda: bobs.vector_stores.files.create(vector_store_id=bobs_store.id, file_id=alices_file.id),
        lambda: bobs.vector_stores.file_batches.create(bobs_store.id, file_ids=[alices_file.id]),
    ):
        with pytest.raises(openai.NotFoundError) as refused:
            attempt()
        assert refused.value.body["code"] == "file_not_found"

    assert [file.id for file in bobs.files.list()] == []
    assert fake_openai.requests_to("POST", f"/vector_stores/{bobs_store.id}/files") == []
    assert fake_openai.requests_to("POST", f"/vector_stores/{bobs_store.id}/file_batches") == []
    assert fake_openai.requests_to("GET", f"/files/{alices_file.id}") == []
    assert fake_openai.requests_to("DELETE", f"/files/{alices_file.id}") == []
    assert alices_file.id in fake_openai.files


def test_a_file_in_a_store_of_another_user_is_not_deleted(sdk_for, alice, bob, owned_credential, alices_file):
    alices = sdk_for(alice, owned_credential)
    store = alices.vector_stores.create(name="Alice's")
    alices.vector_stores.files.create_and_poll(alices_file.id, vector_store_id=store.id)
    StoreRecord.objects.filter(store_id=store.id).update(owner=bob)  # an admin gives the store to bob

    with pytest.raises(openai.ConflictError) as in_use:
        alices.files.delete(alices_file.id)

    assert in_use.value.body["code"] == "file_in_use"
    assert sdk_for(bob, owned_credential).vector_stores.files.retrieve(alices_file.id, vector_store_id=store.id)


def test_a_file_that_cannot_be_recorded_is_deleted_again(sdk, fake_openai, monkeypatch):
    def failing_insert(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(FileRecord.objects, "create", failing_insert)
    with pytest.raises(openai.InternalServerError):
        sdk.files.create(file=text("unrecorded.txt"), purpose="assistants")

    assert len(fake_openai.requests_to("POST", "/files")) == 1  # it was made at OpenAI...
    assert len(fake_openai.requests_to("DELETE", "/files/")) == 1 and fake_openai.files == {}  # ...and deleted


def test_a_file_for_other_uses_is_neither_shown_nor_deleted(sdk, fake_openai):
    """The shared credential lets its users reach every store, not every File of the key: fine-tuning data is
    not a vector store's."""
    training = fake_openai.create_file("training.jsonl", b'{"messages": []}', purpose="fine-tune")

    for attempt in (lambda: sdk.files.retrieve(training["id"]), lambda: sdk.files.delete(training["id"])):
        with pytest.raises(openai.NotFoundError) as refused:
            attempt()
        assert refused.value.body["code"] == "file_not_found"
    assert training["id"] in fake_openai.files
    assert fake_openai.requests_to("DELETE", "/files") == []


def test_a_file_deleted_at_openai_is_forgotten_when_retrieved(sdk, fake_openai):
    file = sdk.files.create(file=text("gone.txt"), purpose="assistants")
    fake_openai.delete_file(file.id)

    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(file.id)
    assert not FileRecord.objects.filter(file_id=file.id).exists()


def test_an_unknown_cursor_is_a_bad_request(sdk):
    with pytest.raises(openai.BadRequestError) as unknown:
        sdk.files.list(after="file-unknown")
    assert unknown.value.body["param"] == "after"


@pytest.mark.parametrize("limit", ["1.0", "\u0661", "0"])
def test_a_list_limit_that_is_no_count_in_digits_is_a_bad_request(user, credential, fake_openai, limit):
    response = client_for(user, "Bearer").get(f"/api/openai/{credential.pk}/v1/files", {"limit": limit})
    assert (response.status_code, response.json()["error"]["param"]) == (400, "limit")
    assert fake_openai.requests == []


# --- OpenAI's faults and answers ---


def test_openais_faults_reach_the_sdk_as_its_error_classes(sdk, fake_openai, store, settings):
    settings.OPENAI_VECTOR_STORES = {"MAX_RETRIES": 0}  # each fault reaches the caller at once
    path = rf"/vector_stores/{store['id']}$"
    fake_openai.fail("GET", path, 500)
    with pytest.raises(openai.InternalServerError) as server_error:
        sdk.vector_stores.retrieve(store["id"])
    assert (server_error.value.status_code, server_error.value.body["code"]) == (502, "openai_server_error")

    fake_openai.fail("GET", path, 429, headers={"retry-after": "7"})
    with pytest.raises(openai.RateLimitError) as rate_limited:
        sdk.vector_stores.retrieve(store["id"])
    assert rate_limited.value.response.headers["retry-after"] == "7"
    assert rate_limited.value.body["code"] == "openai_rate_limited"

    body = {"error": {"message": "Bad name.", "type": "invalid_request_error", "param": "name", "code": None}}
    fake_openai.fail("POST", path, 400, body=body)
    with pytest.raises(openai.BadRequestError) as bad_request:
        sdk.vector_stores.update(store["id"], name="x")
    assert (bad_request.value.body["param"], bad_request.value.body["code"]) == ("name", "openai_bad_request")


def test_an_upstream_param_or_request_id_echoing_the_key_is_redacted(sdk, store, fake_openai, credential):
    """An answer may be hostile: what it names is shown without the key the request carried."""
    key = credential.api_key
    body = {"error": {"message": "Bad.", "type": "invalid_request_error", "param": f"key {key}", "code": None}}
    fake_openai.fail("GET", f"/vector_stores/{store['id']}", 400, body=body, headers={"x-request-id": key})
    with pytest.raises(openai.BadRequestError) as bad_request:
        sdk.vector_stores.retrieve(store["id"])
    assert bad_request.value.body["param"] == "key ***"
    assert key not in bad_request.value.response.text


def test_a_lost_upload_answer_leaves_no_file_behind(sdk, fake_openai):
    fake_openai.drop("POST", r"/files$", after_processing=True)

    with pytest.raises(openai.InternalServerError):
        sdk.files.create(file=text("lost.txt"), purpose="assistants")

    assert len(fake_openai.requests_to("POST", "/files")) == 1  # it was made at OpenAI...
    assert fake_openai.files == {}  # ...and deleted again
    assert not FileRecord.objects.exists()


def test_openais_poll_hint_is_passed_on(sdk, fake_openai, store):
    fake_openai.poll_after_ms, fake_openai.batch_processing_time = 25, 0.2
    file = fake_openai.create_file("a.txt", b"text")
    batch = sdk.vector_stores.file_batches.create(store["id"], file_ids=[file["id"]])

    answer = sdk.vector_stores.file_batches.with_raw_response.retrieve(batch.id, vector_store_id=store["id"])
    assert answer.headers["openai-poll-after-ms"] == "25"
    assert sdk.vector_stores.file_batches.poll(batch.id, vector_store_id=store["id"]).status == "completed"


@pytest.mark.parametrize("hint", ["-5", "100\r\n x", "soon"])
def test_a_poll_hint_of_another_form_is_not_passed_on(sdk, fake_openai, store, hint):
    """Any value was passed on as it came to the caller's SDK (one with a line break that a raw upstream keeps
    made the route a 500: Django refuses it in a header)."""
    fake_openai.poll_after_ms = hint
    file = fake_openai.create_file("a.txt", b"text")
    batch = sdk.vector_stores.file_batches.create(store["id"], file_ids=[file["id"]])

    answer = sdk.vector_stores.file_batches.with_raw_response.retrieve(batch.id, vector_store_id=store["id"])

    assert answer.http_response.status_code == 200
    assert "openai-poll-after-ms" not in answer.headers


# --- the OpenAPI document ---


def test_the_routes_have_their_own_tag_and_openais_operation_ids(client):
    document = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    wire = {
        (method, path): operation
        for path, item in document["paths"].items()
        if path.startswith(f"{WIRE_ROOT}/")
        for method, operation in item.items()
    }
    ids = {operation["operationId"] for operation in wire.values()}
    assert ids == {
        "listVectorStores", "createVectorStore", "getVectorStore", "modifyVectorStore", "deleteVectorStore",
        "listVectorStoreFiles", "createVectorStoreFile", "getVectorStoreFile", "updateVectorStoreFileAttributes",
        "deleteVectorStoreFile", "retrieveVectorStoreFileContent", "createVectorStoreFileBatch",
        "getVectorStoreFileBatch", "cancelVectorStoreFileBatch", "listFilesInVectorStoreBatch", "searchVectorStore",
        "listFiles", "createFile", "retrieveFile", "deleteFile",
    }  # fmt: skip
    for operation in wire.values():
        assert operation["tags"] == ["OpenAI-compatible"]
        assert operation["security"] == [{"bearerAuth": []}]
        names = {(parameter["name"], parameter["in"]) for parameter in operation["parameters"]}
        assert ("credential", "path") in names and ("credential", "query") not in names
        assert operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIError")
    listed = wire[("get", f"{WIRE_ROOT}/{{credential}}/v1/vector_stores")]["responses"]["200"]
    page = listed["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(document["components"]["schemas"][page]["properties"]) == {
        "object", "data", "first_id", "last_id", "has_more"
    }  # fmt: skip


# --- a host site's settings ---


def test_without_drfs_token_app_nobody_authenticates_by_default(settings, rf):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "rest_framework.authtoken"]
    request = rf.get("/", HTTP_AUTHORIZATION="Bearer some-token")
    assert BearerTokenAuthentication().authenticate(request) is None  # a 401 for the caller, not a 500
