"""How OpenAI's faults reach the caller: the documented status, code and body."""

import pytest

from tests.conftest import TEST_API_KEY, client_for, closed_port
from vectorstores import gateway

pytestmark = pytest.mark.django_db

MAPPING = [
    (400, 400, "openai_bad_request"),
    (401, 401, "openai_invalid_api_key"),
    (403, 403, "openai_permission_denied"),
    (404, 404, "openai_not_found"),
    (409, 409, "openai_conflict"),
    (429, 429, "openai_rate_limited"),
    (500, 502, "openai_server_error"),
    (503, 502, "openai_server_error"),
]


@pytest.mark.parametrize(("upstream", "expected", "code"), MAPPING)
def test_upstream_status_maps_to_the_documented_status(api, url, fake_openai, upstream, expected, code):
    fake_openai.fail("GET", "/vector_stores/vs_1", upstream)
    response = api.get(url("/vs_1"))
    assert response.status_code == expected
    body = response.json()
    assert body["code"] == code
    assert body["openai_request_id"].startswith("req_")
    assert response["Content-Type"] == "application/json"


def test_rate_limit_passes_retry_after_on(api, url, fake_openai):
    fake_openai.fail("GET", "/vector_stores", 429, headers={"Retry-After": "17"})
    response = api.get(url())
    assert response.status_code == 429
    assert response["Retry-After"] == "17"


def test_a_rejected_key_is_401_and_never_echoed(api, url, fake_openai, credential):
    fake_openai.api_keys.clear()
    response = api.get(url())
    assert response.status_code == 401
    assert response.json()["detail"] == "OpenAI rejected the credential's API key."
    assert TEST_API_KEY not in response.content.decode()


def test_keys_in_upstream_messages_are_redacted(api, url, fake_openai):
    fake_openai.fail(
        "GET",
        "/vector_stores/vs_1",
        400,
        body={
            "error": {
                "message": f"Bad key {TEST_API_KEY} here",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        },
    )
    response = api.get(url("/vs_1"))
    assert response.status_code == 400
    assert TEST_API_KEY not in response.content.decode()
    assert response.json()["detail"] == "Bad key *** here"


def test_a_key_of_any_shape_is_redacted_wherever_a_message_echoes_it(api, url, credential, fake_openai, accept_api_key):
    azure_key = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"  # no "sk-": no pattern would find it
    accept_api_key(azure_key)
    credential.api_key = azure_key
    credential.save()
    fake_openai.fail(
        "GET",
        "/vector_stores/vs_1",
        400,
        body={
            "error": {
                "message": f"Key {azure_key} (…{azure_key[-4:]}) may not read vs_1",
                "type": "invalid_request_error",
            }
        },
    )

    response = api.get(url("/vs_1"))

    assert response.status_code == 400
    assert azure_key not in response.content.decode()
    assert response.json()["detail"].startswith("Key *** ")


@pytest.mark.parametrize("request_id", [f"{TEST_API_KEY}", f"req_{TEST_API_KEY}", "sk-proj-anotherkeyofitsown0123"])
def test_a_request_id_echoing_a_key_is_redacted(api, url, fake_openai, request_id):
    fake_openai.fail("GET", "/vector_stores/vs_1", 400, headers={"x-request-id": request_id})
    response = api.get(url("/vs_1"))
    assert response.status_code == 400
    assert "***" in response.json()["openai_request_id"]
    assert TEST_API_KEY not in response.content.decode() and "anotherkeyofitsown" not in response.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        {"error": "a string where an object belongs"},
        {"error": ["a", "list"]},
        {"error": {"message": 5}},
        {"error": {"error": "nested"}, "message": None},
    ],
    ids=["string", "list", "message-not-text", "nested"],
)
def test_an_error_body_that_is_not_openais_shape_is_502(api, url, fake_openai, body):
    fake_openai.fail("GET", "/vector_stores/vs_1", 400, body=body)
    response = api.get(url("/vs_1"))
    assert response.status_code == 502
    assert response.json()["code"] == "openai_bad_response"


def test_an_unreachable_openai_is_502(api, url, credential):
    with closed_port() as port:
        credential.base_url, credential.api_key = f"http://127.0.0.1:{port}/v1", TEST_API_KEY
        credential.save()
        response = api.get(url())
    assert response.status_code == 502
    assert response.json() == {
        "detail": "The connection to OpenAI failed.",
        "message": "The connection to OpenAI failed.",
        "code": "openai_unreachable",
    }


def test_a_slow_openai_is_504_within_the_timeout(api, url, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "TIMEOUT": 0.3}
    fake_openai.delay("GET", "/vector_stores/vs_1", 2)
    response = api.get(url("/vs_1"))
    assert response.status_code == 504
    assert response.json()["code"] == "openai_timeout"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"a string"'])
def test_an_unreadable_answer_is_502(api, url, fake_openai, body):
    fake_openai.fail("GET", "/vector_stores/vs_1", 200, body=body)
    response = api.get(url("/vs_1"))
    assert response.status_code == 502
    assert response.json()["code"] == "openai_bad_response"


@pytest.mark.parametrize("bad_id", ["vs bad/../x", "vs_1?x=1", "", "v" * 129, 5])
@pytest.mark.parametrize("route", ["get a store (plain read)", "create a store (SDK)", "list stores"])
def test_an_answer_with_an_id_that_is_no_object_id_is_502(api, url, fake_openai, route, bad_id):
    """Ids from OpenAI go into URLs (Location, Link, the console's links): only OpenAI's id shape is believed."""
    store = {"object": "vector_store", "id": bad_id, "name": "x", "created_at": 1}
    method, path, path_regex, body = {
        "get a store (plain read)": ("get", "/vs_1", "/vector_stores/vs_1", store),
        "create a store (SDK)": ("post", "", "/vector_stores$", store),
        "list stores": ("get", "", "/vector_stores$", {"object": "list", "data": [store], "has_more": False}),
    }[route]
    fake_openai.fail(method.upper(), path_regex, 200, body=body)
    response = getattr(api, method)(url(path), {"name": "x"} if method == "post" else None, format="json")
    assert (response.status_code, response.json()["code"]) == (502, "openai_bad_response")


@pytest.mark.parametrize(
    ("method", "path", "body", "answer"),
    [
        ("get", "/vs_1", None, {"object": "vector_store", "id": "vs_2"}),
        ("put", "/vs_1", {"name": "x"}, {"object": "vector_store", "id": "vs_2"}),
        ("get", "/vs_1/files/file-1", None, {"object": "vector_store.file", "id": "file-2"}),
        ("post", "/vs_1/files/file-1", {"attributes": {"a": "b"}}, {"object": "vector_store.file", "id": "file-2"}),
        ("get", "/vs_1/file_batches/vsfb_1", None, {"object": "vector_store.file_batch", "id": "vsfb_2"}),
        ("post", "/vs_1/file_batches/vsfb_1/cancel", None, {"object": "vector_store.file_batch", "id": "vsfb_2"}),
        ("delete", "/vs_1", None, {"object": "vector_store.deleted", "id": "vs_2", "deleted": True}),
        (
            "delete",
            "/vs_1/files/file-1",
            None,
            {"object": "vector_store.file.deleted", "id": "file-2", "deleted": True},
        ),
    ],
)
def test_an_answer_about_another_object_than_the_one_asked_for_is_502(
    api, url, fake_openai, method, path, body, answer
):
    """A store's answer is kept as its record's snapshot (the owned lists show it): another store's must not be.
    Nor is another object's answer passed on as the one asked for."""
    fake_openai.fail(method.upper() if method != "put" else "POST", f"/vector_stores{path}$", 200, body=answer)
    response = getattr(api, method)(url(path), body, format="json")
    assert (response.status_code, response.json()["code"]) == (502, "openai_bad_response")


OTHER_STORES_FILE = {"object": "vector_store.file", "id": "file-1", "vector_store_id": "vs_2", "status": "completed"}
NO_STORES_FILE = {"object": "vector_store.file", "id": "file-1", "status": "completed"}
OTHER_STORES_BATCH = {
    "object": "vector_store.file_batch",
    "id": "vsfb_1",
    "vector_store_id": "vs_2",
    "status": "in_progress",
    "file_counts": {"in_progress": 1, "completed": 0, "failed": 0, "cancelled": 0, "total": 1},
}


def a_list(*objects):
    return {"object": "list", "data": list(objects), "has_more": False}


@pytest.mark.parametrize(
    ("method", "path", "upstream_path", "body", "answer"),
    [
        ("get", "/vs_1/files/file-1", "/files/file-1", None, OTHER_STORES_FILE),
        ("get", "/vs_1/files/file-1", "/files/file-1", None, NO_STORES_FILE),
        ("post", "/vs_1/files/file-1", "/files/file-1", {"attributes": {"a": "b"}}, OTHER_STORES_FILE),
        ("get", "/vs_1/files", "/files", None, a_list(OTHER_STORES_FILE)),
        ("get", "/vs_1/file_batches/vsfb_1", "/file_batches/vsfb_1", None, OTHER_STORES_BATCH),
        ("post", "/vs_1/file_batches/vsfb_1/cancel", "/file_batches/vsfb_1/cancel", None, OTHER_STORES_BATCH),
        ("get", "/vs_1/file_batches/vsfb_1/files", "/file_batches/vsfb_1/files", None, a_list(OTHER_STORES_FILE)),
        ("post", "/vs_1/file_batches", "/file_batches", {"file_ids": ["file-1"]}, OTHER_STORES_BATCH),
    ],
)
def test_an_answer_about_another_vector_store_than_the_one_asked_for_is_502(
    api, url, fake_openai, method, path, upstream_path, body, answer
):
    """A vector store file or file batch (or a list of them) that names another store, or none, is not this
    store's: OpenAI's always name theirs."""
    fake_openai.fail(method.upper(), f"/vector_stores/vs_1{upstream_path}$", 200, body=answer)
    response = getattr(api, method)(url(path), body, format="json")
    assert (response.status_code, response.json()["code"]) == (502, "openai_bad_response")


def test_a_file_attached_through_the_openai_compatible_route_to_another_store_is_502(user, credential, fake_openai):
    """That route attaches one File with OpenAI's own `POST /vector_stores/{id}/files` (not in a batch)."""
    fake_openai.fail("POST", "/vector_stores/vs_1/files$", 200, body=OTHER_STORES_FILE)
    response = client_for(user, "Bearer").post(
        f"/api/openai/{credential.pk}/v1/vector_stores/vs_1/files", {"file_id": "file-1"}, format="json"
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "openai_bad_response"


@pytest.mark.parametrize(
    ("method", "path", "call", "answer"),
    [
        ("GET", "/files/file-1", lambda credential: gateway.get_file(credential, "file-1"), {"object": "file"}),
        ("DELETE", "/files/file-1", lambda credential: gateway.delete_file(credential, "file-1"), {"object": "file"}),
        (
            "POST",  # one File attached by OpenAI's own route (the OpenAI-compatible views)
            "/vector_stores/vs_1/files",
            lambda credential: gateway.attach_file_to_store(credential, "vs_1", "file-1"),
            {"object": "vector_store.file"},
        ),
    ],
)
def test_a_file_answered_with_another_files_id_is_a_bad_response(credential, fake_openai, method, path, call, answer):
    fake_openai.fail(method, f"{path}$", 200, body={**answer, "id": "file-2"})
    with pytest.raises(gateway.OpenAIBadResponse):
        call(credential)


def test_idempotent_calls_are_retried_as_configured(api, url, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_RETRIES": 2}
    store = fake_openai.create_vector_store(name="retry me")
    fake_openai.fail("GET", f"/vector_stores/{store['id']}", 503, times=2, headers={"Retry-After-Ms": "10"})
    response = api.get(url(f"/{store['id']}"))
    assert response.status_code == 200
    assert len(fake_openai.requests_to("GET", f"/vector_stores/{store['id']}")) == 3


def test_creates_are_not_retried_after_a_server_error_even_with_retries_on(api, url, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_RETRIES": 2, "CREATE_MAX_RETRIES": 2}
    fake_openai.fail("POST", "/vector_stores", 503, times=1)
    response = api.post(url(), {"name": "once"}, format="json")
    assert response.status_code == 502
    assert len(fake_openai.requests_to("POST", "/vector_stores")) == 1
    assert fake_openai.vector_stores == {}
