"""One file of a store: GET, POST (attributes) and DELETE /{id}/files/{file_id}, its indexed content
(GET /{id}/files/{file_id}/content), and attaching existing Files (POST /{id}/files).

For each route: what it answers and what reached OpenAI, its validation (nothing reaches OpenAI), OpenAI's
errors, the audit trail and access. The rules a batch body shares with POST /{id}/file_batches (`file_ids`,
`files`, their limits) are checked for both routes in test_file_batches.py.
"""

import pytest

from tests.conftest import assert_invalid, audited, client_for

pytestmark = pytest.mark.django_db

# Path ids the API refuses before anything reaches OpenAI (as sent in the URL).
BAD_IDS = ["a.b", "a%20b", "..", "x" * 129, "file%0A", "file%00", "%C3%A9t%C3%A9"]
ATTRIBUTES = {"lang": "en", "year": 2024, "score": 0.5, "draft": False}


def bad_attributes():
    """Attributes over each limit, or of a type an attribute cannot have: (id, value)."""
    return [
        ("17-keys", {f"k{n}": "v" for n in range(17)}),
        ("65-char-key", {"k" * 65: "v"}),
        ("513-char-value", {"k": "v" * 513}),
        ("object-value", {"k": {"nested": 1}}),
        ("list-value", {"k": ["a", "b"]}),
        ("null-value", {"k": None}),
        ("not-an-object", ["k", "v"]),
        ("a-string", "k=v"),
    ]


BAD_ATTRIBUTES = [pytest.param(value, id=name) for name, value in bad_attributes()]
# The largest attributes that pass: 16 keys of 64 characters, string values of 512 characters.
LARGEST_ATTRIBUTES = {f"{n:02d}" + "k" * 62: "v" * 512 for n in range(16)}


@pytest.fixture
def file(fake_openai, store):
    """A File of 25 characters attached to `store`, with attributes."""
    file = fake_openai.create_file("notes.txt", b"0123456789abcdefghijKLMNO")
    fake_openai.attach_file(store["id"], file["id"])
    fake_openai.vector_store_files[(store["id"], file["id"])]["attributes"] = {"team": "docs"}
    return file


@pytest.fixture
def file_url(url, store, file):
    """file_url(suffix="", **query): the URL of `file` in `store`."""

    def build(suffix="", *, store_id=None, file_id=None, **query):
        return url(f"/{store_id or store['id']}/files/{file_id or file['id']}{suffix}", **query)

    return build


# --- GET /{id}/files/{file_id} ------------------------------------------------------------------------


def test_get_file_returns_the_vector_store_file(api, file_url, store, file, fake_openai):
    response = api.get(file_url())
    assert response.status_code == 200
    assert response.json() == fake_openai.vector_store_files[(store["id"], file["id"])]
    assert response.json()["object"] == "vector_store.file"
    [request] = fake_openai.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        f"/vector_stores/{store['id']}/files/{file['id']}",
        {},
    )
    assert audited() == [("retrieve_file", "GET", store["id"], 200)]


def test_get_file_answers_with_and_without_a_trailing_slash(api, url, store, file, fake_openai):
    assert api.get(url(f"/{store['id']}/files/{file['id']}/")).status_code == 200


def test_get_a_file_not_in_the_store_is_openais_404(api, file_url, fake_openai):
    other = fake_openai.create_file("elsewhere.txt")
    response = api.get(file_url(file_id=other["id"]))
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "openai_not_found" and body["openai_request_id"].startswith("req_")
    assert body["message"] == body["detail"]


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (500, 502, "openai_server_error"),
        (429, 429, "openai_rate_limited"),
        (401, 401, "openai_invalid_api_key"),
        (403, 403, "openai_permission_denied"),
    ],
)
def test_get_file_maps_openais_errors(api, file_url, store, file, fake_openai, status, expected, code):
    fake_openai.fail("GET", f"/vector_stores/{store['id']}/files/{file['id']}", status, headers={"Retry-After": "3"})
    response = api.get(file_url())
    assert (response.status_code, response.json()["code"]) == (expected, code)
    if status == 429:
        assert response["Retry-After"] == "3"
    assert audited() == [("retrieve_file", "GET", store["id"], expected)]


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_a_bad_file_id_in_the_path_is_400_before_openai(api, url, store, fake_openai, bad_id, method):
    path = url(f"/{store['id']}/files/{bad_id}")
    response = api.post(path, {"attributes": None}, format="json") if method == "post" else getattr(api, method)(path)
    assert_invalid(response, "file_id")
    assert fake_openai.requests == []


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_a_bad_store_id_in_a_file_path_is_400_before_openai(api, url, file, fake_openai, bad_id):
    assert_invalid(api.get(url(f"/{bad_id}/files/{file['id']}/content")), "id")
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("post", "", {"attributes": None}),
        ("delete", "", None),
        ("get", "/content", None),
    ],
    ids=["get", "update", "detach", "content"],
)
def test_someone_elses_credential_is_404_and_nothing_reaches_openai(
    other_user, file_url, store, fake_openai, method, suffix, body
):
    client = client_for(other_user)
    response = (
        client.post(file_url(suffix), body, format="json")
        if method == "post"
        else getattr(client, method)(file_url(suffix))
    )
    assert response.status_code == 404
    assert response.json()["code"] == "credential_not_found"
    assert fake_openai.requests == []
    assert audited()[0][2:] == (store["id"], 404)


# --- POST /{id}/files/{file_id}: attributes --------------------------------------------------------------


def test_update_file_replaces_the_attributes(api, file_url, store, file, fake_openai):
    response = api.post(file_url(), {"attributes": ATTRIBUTES}, format="json")
    assert response.status_code == 200
    assert response.json()["attributes"] == ATTRIBUTES
    assert fake_openai.vector_store_files[(store["id"], file["id"])]["attributes"] == ATTRIBUTES
    [request] = fake_openai.requests
    assert (request.method, request.path, request.json) == (
        "POST",
        f"/vector_stores/{store['id']}/files/{file['id']}",
        {"attributes": ATTRIBUTES},
    )
    assert audited() == [("update_file", "POST", store["id"], 200)]


def test_null_attributes_clear_them(api, file_url, store, file, fake_openai):
    response = api.post(file_url(), {"attributes": None}, format="json")
    assert response.status_code == 200
    assert response.json()["attributes"] == {}
    assert fake_openai.requests[-1].json == {"attributes": None}


def test_the_largest_attributes_pass(api, file_url, fake_openai):
    response = api.post(file_url(), {"attributes": LARGEST_ATTRIBUTES}, format="json")
    assert response.status_code == 200
    assert fake_openai.requests[-1].json == {"attributes": LARGEST_ATTRIBUTES}


@pytest.mark.parametrize("attributes", BAD_ATTRIBUTES)
def test_invalid_attributes_are_400_before_openai(api, file_url, fake_openai, attributes):
    assert_invalid(api.post(file_url(), {"attributes": attributes}, format="json"), "attributes")
    assert fake_openai.requests == []
    assert audited()[0][3] == 400


@pytest.mark.parametrize(
    "body",
    [{}, {"attributes": {}, "extra": 1}, [], "attributes"],
    ids=["missing", "unknown-field", "a-list", "a-string"],
)
def test_an_update_body_without_just_attributes_is_400(api, file_url, fake_openai, body):
    assert_invalid(api.post(file_url(), body, format="json"))
    assert fake_openai.requests == []


def test_a_body_that_is_not_json_is_a_400_parse_error(api, file_url, fake_openai):
    response = api.post(file_url(), b"{not json", content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (400, 400, "openai_bad_request"),
        (404, 404, "openai_not_found"),
        (500, 502, "openai_server_error"),
    ],
)
def test_update_file_maps_openais_errors(api, file_url, store, file, fake_openai, status, expected, code):
    fake_openai.fail("POST", f"/vector_stores/{store['id']}/files/{file['id']}", status)
    response = api.post(file_url(), {"attributes": ATTRIBUTES}, format="json")
    assert (response.status_code, response.json()["code"]) == (expected, code)
    assert audited() == [("update_file", "POST", store["id"], expected)]


# --- DELETE /{id}/files/{file_id} -------------------------------------------------------------------


def test_detach_keeps_the_file(api, file_url, store, file, fake_openai):
    response = api.delete(file_url())
    assert response.status_code == 200
    assert response.json() == {"id": file["id"], "object": "vector_store.file.deleted", "deleted": True}
    assert (store["id"], file["id"]) not in fake_openai.vector_store_files
    assert file["id"] in fake_openai.files
    assert [(r.method, r.path) for r in fake_openai.requests] == [
        ("DELETE", f"/vector_stores/{store['id']}/files/{file['id']}")
    ]
    assert audited() == [("detach_file", "DELETE", store["id"], 200)]


def test_detach_with_delete_file_also_deletes_the_file(api, file_url, store, file, fake_openai):
    response = api.delete(file_url(delete_file="true"))
    assert response.status_code == 200
    assert response.json() == {
        "id": file["id"],
        "object": "vector_store.file.deleted",
        "deleted": True,
        "file_deleted": True,
    }
    assert file["id"] not in fake_openai.files
    assert [(r.method, r.path) for r in fake_openai.requests] == [
        ("DELETE", f"/vector_stores/{store['id']}/files/{file['id']}"),
        ("DELETE", f"/files/{file['id']}"),
    ]


def test_delete_file_false_only_detaches(api, file_url, file, fake_openai):
    assert api.delete(file_url(delete_file="false")).json() == {
        "id": file["id"],
        "object": "vector_store.file.deleted",
        "deleted": True,
    }
    assert file["id"] in fake_openai.files


def test_a_file_not_in_the_store_is_neither_detached_nor_deleted(api, file_url, fake_openai):
    other = fake_openai.create_file("elsewhere.txt")
    response = api.delete(file_url(file_id=other["id"], delete_file="true"))
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "openai_not_found"
    assert body["files"] == [
        {
            "id": other["id"],
            "object": "vector_store.file.deleted",
            "deleted": False,
            "file_deleted": False,
            "error": body["files"][0]["error"],
        }
    ]
    assert body["files"][0]["error"]["code"] == "openai_not_found"
    assert other["id"] in fake_openai.files  # never asked to delete it
    assert fake_openai.requests_to("DELETE", "/files/") == []


def test_a_failed_file_deletion_reports_the_step_with_its_status(api, file_url, store, file, fake_openai):
    fake_openai.fail("DELETE", f"/files/{file['id']}", 500)
    response = api.delete(file_url(delete_file="true"))
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "openai_server_error" and body["message"] == body["detail"]
    [report] = body["files"]
    assert (report["id"], report["deleted"], report["file_deleted"]) == (file["id"], True, False)
    assert report["error"]["code"] == "openai_server_error"
    assert (store["id"], file["id"]) not in fake_openai.vector_store_files and file["id"] in fake_openai.files
    assert audited() == [("detach_file", "DELETE", store["id"], 502)]


@pytest.mark.parametrize("value", ["maybe", "2", "tru"])
def test_delete_file_must_be_a_boolean(api, file_url, fake_openai, value):
    assert_invalid(api.delete(file_url(delete_file=value)), "delete_file")
    assert fake_openai.requests == []


# --- GET /{id}/files/{file_id}/content ----------------------------------------------------------------


def test_content_is_every_page_merged(api, file_url, store, file, fake_openai):
    fake_openai.content_page_chars = 10
    response = api.get(file_url("/content"))
    assert response.status_code == 200
    assert response.json() == {
        "object": "vector_store.file_content.page",
        "data": [
            {"type": "text", "text": "0123456789"},
            {"type": "text", "text": "abcdefghij"},
            {"type": "text", "text": "KLMNO"},
        ],
        "has_more": False,
        "next_page": None,
    }
    assert "Link" not in response
    requests = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/files/{file['id']}/content")
    assert len(requests) == 3 and requests[0].query == {}
    assert all(set(request.query) == {"page"} for request in requests[1:])
    assert audited() == [("file_content", "GET", store["id"], 200)]


def test_content_on_one_page_passes_openais_page_through(api, file_url, fake_openai):
    response = api.get(file_url("/content"))
    assert response.json() == {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": "0123456789abcdefghijKLMNO"}],
        "has_more": False,
        "next_page": None,
    }
    assert len(fake_openai.requests) == 1


def test_the_whole_content_follows_only_as_many_pages_as_full_pages_take(
    api, file_url, store, file, fake_openai, settings
):
    """An upstream that answers a character a page made one call a thousand upstream calls."""
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 1000}
    fake_openai.content_page_chars = 1
    response = api.get(file_url("/content"))
    assert response.status_code == 200 and len(response.json()["data"]) == 10 and "Link" in response
    assert len(fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/files/{file['id']}/content")) == 10


def test_a_merged_answer_cut_by_its_pages_links_to_the_rest(api, file_url, store, file, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 200}  # two pages at most
    fake_openai.content_page_chars = 10
    response = api.get(file_url("/content"))
    assert response.status_code == 200
    page = response.json()
    assert [piece["text"] for piece in page["data"]] == ["0123456789", "abcdefghij"]
    assert page["has_more"] is True and isinstance(page["next_page"], str)
    link = response["Link"]
    assert link.startswith(
        f"<http://testserver/api/v1/openai-assistants-vector-store/{store['id']}/files/{file['id']}/content?"
    ) and link.endswith('>; rel="next"')
    assert f"page={page['next_page']}" in link and f"credential={file_url().split('credential=')[1]}" in link

    rest = api.get(link[1 : link.index(">")])  # the page the token names, and only it
    assert rest.status_code == 200
    assert rest.json() == {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": "KLMNO"}],
        "has_more": False,
        "next_page": None,
    }
    assert "Link" not in rest
    assert fake_openai.requests[-1].query == {"page": page["next_page"]}


def test_a_page_token_gives_that_page_only_with_a_link_to_the_next(api, file_url, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 1}
    fake_openai.content_page_chars = 10
    first = api.get(file_url("/content")).json()
    second = api.get(file_url("/content", page=first["next_page"]))
    assert [piece["text"] for piece in second.json()["data"]] == ["abcdefghij"]
    assert second.json()["has_more"] is True
    assert f"page={second.json()['next_page']}" in second["Link"]
    assert len(fake_openai.requests) == 2  # one page each: a token is never followed further


def test_page_given_empty_counts_as_not_given(api, file_url, fake_openai):
    fake_openai.content_page_chars = 10
    response = api.get(file_url("/content", page=""))
    assert response.status_code == 200 and len(response.json()["data"]) == 3
    assert fake_openai.requests[0].query == {}


@pytest.mark.parametrize(
    "token",
    ["has space", "x" * 1025, "\u00e9t\u00e9", "tab\tbed", "new\nline"],
    ids=["space", "too-long", "non-ascii", "tab", "newline"],
)
def test_a_malformed_page_token_is_400_before_openai(api, file_url, fake_openai, token):
    assert_invalid(api.get(file_url("/content", page=token)), "page")
    assert fake_openai.requests == []


def test_a_page_token_openai_refuses_is_its_400(api, file_url, store, file, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 1}
    fake_openai.content_page_chars = 10
    other = fake_openai.create_file("other.txt", b"0123456789abcdefghij")
    fake_openai.attach_file(store["id"], other["id"])
    others_token = api.get(file_url("/content", file_id=other["id"])).json()["next_page"]
    for token in (others_token, "bm90LWEtdG9rZW4"):  # another file's token; a token OpenAI never gave
        response = api.get(file_url("/content", page=token))
        assert (response.status_code, response.json()["code"]) == (400, "openai_bad_request")
        assert "page" in response.json()["detail"]
        assert fake_openai.requests[-1].query == {"page": token}
    assert audited()[-1] == ("file_content", "GET", store["id"], 400)


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (404, 404, "openai_not_found"),
        (500, 502, "openai_server_error"),
        (429, 429, "openai_rate_limited"),
    ],
)
def test_content_maps_openais_errors(api, file_url, store, file, fake_openai, status, expected, code):
    fake_openai.fail("GET", f"/vector_stores/{store['id']}/files/{file['id']}/content", status)
    response = api.get(file_url("/content"))
    assert (response.status_code, response.json()["code"]) == (expected, code)


def test_an_answer_that_is_not_a_content_page_is_502(api, file_url, store, file, fake_openai):
    fake_openai.fail(
        "GET", f"/vector_stores/{store['id']}/files/{file['id']}/content", 200, body={"object": "list", "data": []}
    )
    response = api.get(file_url("/content"))
    assert (response.status_code, response.json()["code"]) == (502, "openai_bad_response")


def test_content_of_a_file_not_in_the_store_is_404(api, file_url, fake_openai):
    other = fake_openai.create_file("elsewhere.txt")
    response = api.get(file_url("/content", file_id=other["id"]))
    assert (response.status_code, response.json()["code"]) == (404, "openai_not_found")


# --- POST /{id}/files: attach existing Files ----------------------------------------------------------


@pytest.fixture
def files(fake_openai):
    """Three Files in the fake, attached to no store."""
    return [fake_openai.create_file(f"doc{n}.txt", b"some text")["id"] for n in range(3)]


@pytest.fixture
def attach(api, url, store):
    """attach(body, **query): POST body to `store`'s /files."""

    def post(body, store_id=None, **query):
        return api.post(url(f"/{store_id or store['id']}/files", **query), body, format="json")

    return post


def batch_requests(fake_openai, store):
    return fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")


def polls(fake_openai, store):
    return fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/file_batches/")


STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 100}}


def test_attach_one_file_answers_its_vector_store_file_once_processed(attach, store, files, fake_openai):
    response = attach({"file_id": files[0], "attributes": ATTRIBUTES, "chunking_strategy": STATIC})
    assert response.status_code == 200
    vs_file = response.json()
    assert vs_file == fake_openai.vector_store_files[(store["id"], files[0])]
    assert (vs_file["object"], vs_file["status"], vs_file["attributes"], vs_file["chunking_strategy"]) == (
        "vector_store.file",
        "completed",
        ATTRIBUTES,
        STATIC,
    )
    [created] = batch_requests(fake_openai, store)
    assert created.json == {"files": [{"file_id": files[0], "attributes": ATTRIBUTES, "chunking_strategy": STATIC}]}
    assert fake_openai.requests[-1].path == f"/vector_stores/{store['id']}/files/{files[0]}"
    assert audited() == [("attach_files", "POST", store["id"], 200)]


def test_attach_file_ids_answers_the_completed_batch(attach, store, files, fake_openai):
    response = attach({"file_ids": files, "attributes": {"team": "a"}})
    assert response.status_code == 200
    batch = response.json()
    assert (batch["object"], batch["status"], batch["file_counts"]["completed"]) == (
        "vector_store.files_batch",
        "completed",
        3,
    )
    assert batch == fake_openai.file_batches[batch["id"]]
    assert batch_requests(fake_openai, store)[0].json == {
        "files": [{"file_id": file_id, "attributes": {"team": "a"}} for file_id in files]
    }
    assert all(fake_openai.vector_store_files[(store["id"], f)]["attributes"] == {"team": "a"} for f in files)


def test_attach_files_gives_each_file_its_own_settings(attach, store, files, fake_openai):
    entries = [
        {"file_id": files[0], "attributes": {"n": 0}},
        {"file_id": files[1], "chunking_strategy": STATIC},
        {"file_id": files[2]},
    ]
    response = attach({"files": entries})
    assert response.status_code == 200 and response.json()["file_counts"]["completed"] == 3
    assert batch_requests(fake_openai, store)[0].json == {"files": entries}
    assert fake_openai.vector_store_files[(store["id"], files[0])]["attributes"] == {"n": 0}
    assert fake_openai.vector_store_files[(store["id"], files[1])]["chunking_strategy"] == STATIC


def test_attach_waits_for_processing(attach, store, files, fake_openai):
    fake_openai.batch_processing_time = 0.3
    response = attach({"file_ids": files})
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert len(polls(fake_openai, store)) >= 2


def test_a_failed_batch_is_500_reports_each_file_and_keeps_the_files(attach, store, files, fake_openai):
    fake_openai.batch_outcome = "failed"
    response = attach({"file_ids": files[:2]})
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "batch_failed" and body["message"] == body["detail"]
    assert body["detail"].startswith("2 of 2 files were not added")
    assert body["files"] == [
        {"id": file_id, "status": "failed", "error": "Processing failed."} for file_id in files[:2]
    ]
    assert set(files) <= set(fake_openai.files)  # the caller's Files: never deleted
    assert fake_openai.requests_to("DELETE", "/") == []
    assert audited() == [("attach_files", "POST", store["id"], 500)]


def test_a_file_that_fails_in_a_completed_batch_is_reported(attach, store, files, fake_openai):
    bad = fake_openai.create_file("bad.txt")["id"]
    fake_openai.failing_filenames = {"bad.txt"}
    response = attach({"file_ids": [files[0], bad]})
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "batch_completed"
    assert body["files"][0] == {"id": files[0], "status": "completed", "error": None}
    assert (body["files"][1]["id"], body["files"][1]["status"]) == (bad, "failed")
    assert "not supported" in body["files"][1]["error"]
    assert bad in fake_openai.files


def test_a_batch_not_done_in_time_is_cancelled_and_504(attach, store, files, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "POLL_TIMEOUT": 0.2}
    fake_openai.batch_processing_time = 30
    response = attach({"file_ids": files[:2]})
    assert response.status_code == 504
    body = response.json()
    assert body["code"] == "batch_timeout"
    assert [(f["id"], f["status"]) for f in body["files"]] == [(files[0], "cancelled"), (files[1], "cancelled")]
    [batch] = fake_openai.file_batches.values()
    assert batch["status"] == "cancelled"
    assert fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches/{batch['id']}/cancel")
    assert set(files) <= set(fake_openai.files)
    assert audited() == [("attach_files", "POST", store["id"], 504)]


@pytest.mark.parametrize("shape", ["file_id", "file_ids", "files"])
def test_attach_with_wait_false_is_202_with_a_location(attach, api, store, files, fake_openai, shape):
    fake_openai.batch_processing_time = 30
    body = {"file_id": files[0], "file_ids": files, "files": [{"file_id": file_id} for file_id in files]}
    body = {shape: body[shape]}
    response = attach(body, wait="false")
    assert response.status_code == 202
    batch = response.json()
    assert (batch["object"], batch["status"]) == ("vector_store.files_batch", "in_progress")
    assert polls(fake_openai, store) == []  # nothing waited on the batch
    location = response["Location"]
    assert location.startswith(
        f"http://testserver/api/v1/openai-assistants-vector-store/{store['id']}/file_batches/{batch['id']}?credential="
    )
    followed = api.get(location)
    assert followed.status_code == 200 and followed.json()["id"] == batch["id"]
    assert len(polls(fake_openai, store)) == 1  # the GET of the Location
    assert audited()[0] == ("attach_files", "POST", store["id"], 202)


@pytest.mark.parametrize("wait", ["maybe", "2", "tru", "nope"])
def test_wait_must_be_a_boolean(attach, files, fake_openai, wait):
    assert_invalid(attach({"file_id": files[0]}, wait=wait), "wait")
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {"file_id": "a.b"},
        {"file_id": 5},
        {"file_id": ""},
        {"file_id": None},
        {"file_id": "x" * 129},
        {"file_id": "file-1", "file_ids": ["file-2"]},
        {"file_id": "file-1", "files": [{"file_id": "file-2"}]},
        {"file_id": "file-1", "extra": 1},
    ],
    ids=["bad-id", "not-a-string", "empty", "null", "too-long", "with-file_ids", "with-files", "unknown-field"],
)
def test_invalid_single_attachments_are_400_before_openai(attach, fake_openai, body):
    assert_invalid(attach(body))
    assert fake_openai.requests == []


@pytest.mark.parametrize("attributes", BAD_ATTRIBUTES)
def test_invalid_attributes_of_one_file_are_400_before_openai(attach, fake_openai, attributes):
    assert_invalid(attach({"file_id": "file-1", "attributes": attributes}), "attributes")
    assert fake_openai.requests == []


def test_attach_to_an_unknown_store_is_openais_404(attach, files, fake_openai):
    response = attach({"file_id": files[0]}, store_id="vs_missing")
    assert (response.status_code, response.json()["code"]) == (404, "openai_not_found")
    assert audited() == [("attach_files", "POST", "vs_missing", 404)]


def test_attach_an_unknown_file_is_openais_400(attach, fake_openai):
    response = attach({"file_id": "file-missing"})
    assert (response.status_code, response.json()["code"]) == (400, "openai_bad_request")
    assert "file-missing" in response.json()["message"]


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (500, 502, "openai_server_error"),
        (429, 429, "openai_rate_limited"),
        (409, 409, "openai_conflict"),
    ],
)
def test_attach_maps_openais_errors(attach, store, files, fake_openai, status, expected, code):
    fake_openai.fail("POST", f"/vector_stores/{store['id']}/file_batches", status)
    response = attach({"file_ids": files})
    assert (response.status_code, response.json()["code"]) == (expected, code)
    assert fake_openai.vector_store_files == {}


def test_attach_with_someone_elses_credential_is_404(other_user, url, store, files, fake_openai):
    response = client_for(other_user).post(url(f"/{store['id']}/files"), {"file_id": files[0]}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "credential_not_found")
    assert fake_openai.requests == []
