"""The gateway's own errors: plain Python (no DRF, no API), each carrying what OpenAI said, and
each answered by the API with its documented status, code and body."""

from pathlib import Path

import httpx2
import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile

from credentials.fields import UnreadableSecret
from tests.conftest import imported_modules
from tests.hosts import modules_imported_by
from vectorstores import gateway
from vectorstores.api.exceptions import api_exception_handler

GATEWAY = Path(gateway.__file__).parent
FORBIDDEN = ("rest_framework", "vectorstores.api")


def forbidden(module):
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN)


@pytest.mark.parametrize("path", sorted(GATEWAY.glob("*.py")), ids=lambda path: path.name)
def test_no_gateway_module_imports_drf_or_the_api(path):
    assert [module for module in imported_modules(path) if forbidden(module)] == []


def test_the_import_reader_finds_what_a_gateway_module_imports():
    """The control of the test above: its relative imports resolved, and the package it uses."""
    assert {"vectorstores.gateway.client", "vectorstores.gateway.store_uploads"} <= imported_modules(
        GATEWAY / "__init__.py"
    )
    assert "openai" in imported_modules(GATEWAY / "client.py")


@pytest.mark.subprocess
def test_importing_the_gateway_loads_neither_drf_nor_the_api():
    """Nor does anything the gateway imports in turn (no settings needed: nothing is configured)."""
    loaded = modules_imported_by("vectorstores.gateway")
    assert "vectorstores.gateway" in loaded
    assert sorted(module for module in loaded if forbidden(module)) == []


# --- what each error carries ---------------------------------------------------------------------------------


def assert_answered(error, status):
    """The error carries OpenAI's answer: its status, request id and the raw response."""
    assert error.upstream_status == status
    assert error.response.status_code == status
    assert error.request_id.startswith("req_") and error.request_id == error.response.headers["x-request-id"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (400, gateway.OpenAIStatusError, "openai_bad_request"),
        (404, gateway.OpenAINotFound, "openai_not_found"),
        (418, gateway.OpenAIStatusError, "openai_client_error"),
        (503, gateway.OpenAIStatusError, "openai_server_error"),
    ],
)
def test_an_error_status_is_an_openai_status_error(credential, fake_openai, status, kind, code):
    fake_openai.fail("GET", "/vector_stores/vs_1", status)
    with pytest.raises(gateway.OpenAIStatusError) as raised:
        gateway.get_vector_store(credential, "vs_1")
    assert type(raised.value) is kind and raised.value.code == code
    assert_answered(raised.value, status)
    assert raised.value.retry_after is None
    assert str(raised.value) == raised.value.message


@pytest.mark.django_db
def test_a_rate_limit_carries_openais_wait(credential, fake_openai):
    fake_openai.fail("GET", "/vector_stores", 429, headers={"Retry-After-Ms": "1500"})
    with pytest.raises(gateway.OpenAIStatusError) as raised:
        gateway.list_vector_stores(credential, paged=True)
    assert (raised.value.code, raised.value.retry_after) == ("openai_rate_limited", "2")
    assert_answered(raised.value, 429)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "body"), [(400, {"error": "not OpenAI's shape"}), (200, b"not json")], ids=["error body", "answer"]
)
def test_an_unreadable_answer_is_a_bad_response_that_keeps_it(credential, fake_openai, status, body):
    fake_openai.fail("GET", "/vector_stores/vs_1", status, body=body)
    with pytest.raises(gateway.OpenAIBadResponse) as raised:
        gateway.get_vector_store(credential, "vs_1")
    assert raised.value.code == "openai_bad_response"
    assert_answered(raised.value, status)


@pytest.mark.django_db
def test_no_answer_is_unreachable_or_timeout_with_nothing_from_openai(credential, fake_openai, settings):
    fake_openai.drop("GET", "/vector_stores/vs_1")
    with pytest.raises(gateway.OpenAIUnreachable) as unreachable:
        gateway.get_vector_store(credential, "vs_1")
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "TIMEOUT": 0.3}
    fake_openai.delay("GET", "/vector_stores/vs_2", 2)
    with pytest.raises(gateway.OpenAITimeout) as timeout:
        gateway.get_vector_store(credential, "vs_2")
    for error in (unreachable.value, timeout.value):
        assert (error.upstream_status, error.request_id, error.response, error.retry_after) == (None, None, None, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "kind", "code"),
    [
        ({"api_key": UnreadableSecret(b"ciphertext")}, gateway.KeyUnreadable, "credential_unreadable"),
        ({"base_url": "https://attacker.example/v1"}, gateway.EndpointRefused, "credential_endpoint_refused"),
    ],
    ids=["unreadable key", "refused host"],
)
def test_the_client_cache_refuses_an_unusable_credential_itself(credential, fake_openai, change, kind, code):
    for name, value in change.items():
        setattr(credential, name, value)
    with pytest.raises(kind) as raised:
        gateway.clients.get(credential)
    assert isinstance(raised.value, gateway.CredentialNotUsable) and raised.value.code == code
    assert fake_openai.requests == []


class Unrecorded:
    """`gateway.FileRecords` that know no File and keep none: the gateway on its own."""

    def knows(self, file_id):
        return False

    def made(self, file):
        return True


def temporary_upload(name, content=b"some text"):
    upload = TemporaryUploadedFile(name, "text/plain", len(content), None)
    upload.write(content)
    upload.seek(0)
    return upload


@pytest.mark.django_db
@pytest.mark.usefixtures("upload_dir")
def test_a_failed_upload_keeps_its_kind_and_adds_the_per_file_report(credential, fake_openai, store):
    fake_openai.fail("POST", f"/vector_stores/{store['id']}/file_batches", 429, headers={"Retry-After": "9"})
    with pytest.raises(gateway.OpenAIStatusError) as raised:
        gateway.upload_files_to_store(credential, store["id"], [temporary_upload("a.txt")], records=Unrecorded())
    error = raised.value
    assert (error.code, error.retry_after) == ("openai_rate_limited", "9")
    assert_answered(error, 429)
    assert error.message.startswith("The files could not be added to the vector store: ")
    assert [(f["filename"], f["file_deleted"]) for f in error.report["files"]] == [("a.txt", True)]
    assert error.body() == {
        "detail": error.message,
        "message": error.message,
        "code": error.code,
        "openai_request_id": error.request_id,
        "files": error.report["files"],
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("upload_dir")
@pytest.mark.parametrize(
    ("outcome", "kind", "code"),
    [
        ("failed", gateway.BatchEnded, "batch_failed"),
        ("timeout", gateway.BatchTimeout, "batch_timeout"),
    ],
)
def test_a_batch_that_ends_badly_is_a_batch_error(credential, fake_openai, store, settings, outcome, kind, code):
    if outcome == "timeout":
        settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "POLL_TIMEOUT": 0.2}
        fake_openai.batch_processing_time = 30
    else:
        fake_openai.batch_outcome = outcome
    with pytest.raises(gateway.BatchError) as raised:
        gateway.upload_files_to_store(credential, store["id"], [temporary_upload("a.txt")], records=Unrecorded())
    assert type(raised.value) is kind and raised.value.code == code
    assert (raised.value.upstream_status, raised.value.request_id) == (None, None)
    assert [f["filename"] for f in raised.value.report["files"]] == ["a.txt"]


# --- how the API answers each of them ---------------------------------------------------------------------------


def openai_answer(status, **headers):
    return httpx2.Response(status, headers={"x-request-id": "req_123", **headers})


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (gateway.KeyUnreadable(), 503, "credential_unreadable"),
        (gateway.EndpointRefused(), 503, "credential_endpoint_refused"),
        (gateway.OpenAIStatusError("Bad.", response=openai_answer(400)), 400, "openai_bad_request"),
        (gateway.OpenAIStatusError("No.", response=openai_answer(401)), 401, "openai_invalid_api_key"),
        (gateway.OpenAIStatusError("No.", response=openai_answer(403)), 403, "openai_permission_denied"),
        (gateway.OpenAINotFound("Gone.", response=openai_answer(404)), 404, "openai_not_found"),
        (gateway.OpenAIStatusError("Busy.", response=openai_answer(409)), 409, "openai_conflict"),
        (gateway.OpenAIStatusError("Slow down.", response=openai_answer(429)), 429, "openai_rate_limited"),
        (gateway.OpenAIStatusError("Teapot.", response=openai_answer(418)), 418, "openai_client_error"),
        (gateway.OpenAIStatusError("Failed.", response=openai_answer(500)), 502, "openai_server_error"),
        (gateway.OpenAIStatusError("Failed.", response=openai_answer(504)), 502, "openai_server_error"),
        (gateway.OpenAIUnreachable(), 502, "openai_unreachable"),
        (gateway.OpenAIBadResponse(response=openai_answer(200)), 502, "openai_bad_response"),
        (gateway.OpenAITimeout(), 504, "openai_timeout"),
        (gateway.BatchEnded("failed"), 500, "batch_failed"),
        (gateway.BatchEnded("cancelled"), 500, "batch_cancelled"),
        (gateway.BatchEnded("completed"), 500, "batch_completed"),
        (gateway.BatchTimeout(600), 504, "batch_timeout"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, gateway.GatewayError) else None,
)
def test_the_api_answers_each_error_with_its_documented_status_and_body(error, status, code):
    response = api_exception_handler(error, {})
    assert (response.status_code, response.data["code"]) == (status, code)
    assert response.data["detail"] == error.message
    assert response.data.get("openai_request_id") == ("req_123" if error.response is not None else None)
    assert "Retry-After" not in response


def test_the_api_passes_openais_wait_and_the_report_on():
    error = gateway.OpenAIStatusError("Slow down.", response=openai_answer(429), retry_after="9")
    reported = error.with_report("1 of 1 files could not be uploaded: Slow down.", files=[{"filename": "a.txt"}])

    response = api_exception_handler(reported, {})

    assert (response.status_code, response["Retry-After"]) == (429, "9")
    detail = "1 of 1 files could not be uploaded: Slow down."
    assert response.data == {
        "detail": detail,
        "message": detail,
        "code": "openai_rate_limited",
        "openai_request_id": "req_123",
        "files": [{"filename": "a.txt"}],
    }
    assert (error.message, error.report) == ("Slow down.", {})  # the original is left as it was
