"""File batches: POST /{id}/file_batches, GET /{id}/file_batches/{batch_id}, POST .../cancel and
GET .../files; the rules of a batch body (shared by POST /{id}/files, which attaches in a batch); and the
upload's batch options: an `attributes` part and ?wait=false.

For each route: what it answers and what reached OpenAI, its validation (nothing reaches OpenAI), OpenAI's
errors, the audit trail and access.
"""

import json

import pytest

from tests.conftest import assert_invalid, audited, client_for, text_file

pytestmark = pytest.mark.django_db

BAD_IDS = ["a.b", "a%20b", "..", "x" * 129, "batch%0A"]
STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 100}}


@pytest.fixture
def files(fake_openai):
    """Three Files in the fake, attached to no store."""
    return [fake_openai.create_file(f"doc{n}.txt", b"some text")["id"] for n in range(3)]


@pytest.fixture
def batch(fake_openai, store, files):
    """A batch of `files` in `store`, still in progress (it would take a minute)."""
    fake_openai.batch_processing_time = 60
    with fake_openai.lock:
        created = fake_openai.create_batch(store["id"], [(file_id, STATIC, None) for file_id in files])
    fake_openai.batch_processing_time = 0
    return created


@pytest.fixture
def batch_url(url, store, batch):
    """batch_url(suffix="", **query): the URL of `batch` in `store`."""

    def build(suffix="", *, batch_id=None, **query):
        return url(f"/{store['id']}/file_batches/{batch_id or batch['id']}{suffix}", **query)

    return build


# --- POST /{id}/file_batches ------------------------------------------------------------------------


def test_create_a_batch_from_file_ids_answers_at_once(api, url, store, files, fake_openai):
    fake_openai.batch_processing_time = 30
    body = {"file_ids": files, "attributes": {"team": "a", "year": 2024}, "chunking_strategy": STATIC}
    response = api.post(url(f"/{store['id']}/file_batches"), body, format="json")
    assert response.status_code == 200
    created = response.json()
    assert (created["object"], created["status"], created["file_counts"]["in_progress"]) == (
        "vector_store.files_batch",
        "in_progress",
        3,
    )
    assert created["vector_store_id"] == store["id"]
    assert [(r.method, r.path, r.json) for r in fake_openai.requests] == [
        ("POST", f"/vector_stores/{store['id']}/file_batches", body)
    ]  # as given, and nothing polled
    assert audited() == [("create_file_batch", "POST", store["id"], 200)]


def test_create_a_batch_from_files_with_their_own_settings(api, url, store, files, fake_openai):
    entries = [{"file_id": files[0], "attributes": {"n": 1}, "chunking_strategy": STATIC}, {"file_id": files[1]}]
    response = api.post(url(f"/{store['id']}/file_batches"), {"files": entries}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert fake_openai.requests[-1].json == {"files": entries}
    assert fake_openai.vector_store_files[(store["id"], files[0])]["attributes"] == {"n": 1}


@pytest.mark.parametrize("route", ["/files", "/file_batches"])
def test_null_settings_mean_not_given(api, url, store, files, fake_openai, route):
    body = {"file_ids": files, "attributes": None, "chunking_strategy": None}
    response = api.post(url(f"/{store['id']}{route}"), body, format="json")
    assert response.status_code == 200
    sent = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")[0].json
    assert sent in ({"file_ids": files}, {"files": [{"file_id": file_id} for file_id in files]})


def test_create_a_batch_in_an_unknown_store_is_openais_404(api, url, files, fake_openai):
    response = api.post(url("/vs_missing/file_batches"), {"file_ids": files}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "openai_not_found")
    assert audited() == [("create_file_batch", "POST", "vs_missing", 404)]


def test_a_batch_of_unknown_files_is_openais_400(api, url, store, fake_openai):
    response = api.post(url(f"/{store['id']}/file_batches"), {"file_ids": ["file-missing"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "openai_bad_request")


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (500, 502, "openai_server_error"),
        (429, 429, "openai_rate_limited"),
        (403, 403, "openai_permission_denied"),
    ],
)
def test_create_a_batch_maps_openais_errors(api, url, store, files, fake_openai, status, expected, code):
    fake_openai.fail("POST", f"/vector_stores/{store['id']}/file_batches", status)
    response = api.post(url(f"/{store['id']}/file_batches"), {"file_ids": files}, format="json")
    assert (response.status_code, response.json()["code"]) == (expected, code)
    assert len(fake_openai.requests) == 1  # a create is not repeated (MAX_RETRIES are 0 here anyway)


# --- a batch body: the same rules on POST /{id}/file_batches and POST /{id}/files ----------------------


def _bad_bodies():
    ids = [f"file-{n}" for n in range(2001)]
    return [
        ("none", {}),
        ("2001-file_ids", {"file_ids": ids}),
        ("2001-files", {"files": [{"file_id": file_id} for file_id in ids]}),
        ("empty-file_ids", {"file_ids": []}),
        ("empty-files", {"files": []}),
        ("duplicate-file_ids", {"file_ids": ["file-1", "file-1"]}),
        ("duplicate-files", {"files": [{"file_id": "file-1"}, {"file_id": "file-1"}]}),
        ("file_ids-and-files", {"file_ids": ["file-1"], "files": [{"file_id": "file-2"}]}),
        ("attributes-with-files", {"files": [{"file_id": "file-1"}], "attributes": {"a": "b"}}),
        ("chunking-with-files", {"files": [{"file_id": "file-1"}], "chunking_strategy": {"type": "auto"}}),
        ("bad-id-in-file_ids", {"file_ids": ["file-1", "../files"]}),
        ("bad-id-in-files", {"files": [{"file_id": "file 1"}]}),
        ("file_ids-not-a-list", {"file_ids": "file-1"}),
        ("file_ids-of-numbers", {"file_ids": [1]}),
        ("files-entry-not-an-object", {"files": ["file-1"]}),
        ("files-entry-without-file_id", {"files": [{"attributes": {"a": "b"}}]}),
        ("files-entry-unknown-field", {"files": [{"file_id": "file-1", "name": "x"}]}),
        ("17-attributes", {"file_ids": ["file-1"], "attributes": {f"k{n}": n for n in range(17)}}),
        ("65-char-key", {"file_ids": ["file-1"], "attributes": {"k" * 65: 1}}),
        ("513-char-value", {"file_ids": ["file-1"], "attributes": {"k": "v" * 513}}),
        ("object-value", {"file_ids": ["file-1"], "attributes": {"k": {"a": 1}}}),
        ("list-value", {"file_ids": ["file-1"], "attributes": {"k": [1]}}),
        ("bad-attributes-in-files", {"files": [{"file_id": "file-1", "attributes": {"k": [1]}}]}),
        ("bad-chunking", {"file_ids": ["file-1"], "chunking_strategy": {"type": "static"}}),
        (
            "overlap-over-half",
            {
                "file_ids": ["file-1"],
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 201},
                },
            },
        ),
        ("unknown-field", {"file_ids": ["file-1"], "batch": True}),
    ]


@pytest.mark.parametrize("route", ["/files", "/file_batches"])
@pytest.mark.parametrize("body", [pytest.param(body, id=name) for name, body in _bad_bodies()])
def test_invalid_batch_bodies_are_400_before_openai(api, url, store, fake_openai, route, body):
    assert_invalid(api.post(url(f"/{store['id']}{route}"), body, format="json"))
    assert fake_openai.requests == []
    assert audited()[0][3] == 400


@pytest.mark.parametrize("route", ["/files", "/file_batches"])
def test_a_batch_of_2000_files_reaches_openai(api, url, store, fake_openai, route):
    with fake_openai.lock:
        ids = [fake_openai.create_file(f"{n}.txt", b"x")["id"] for n in range(2000)]
    response = api.post(url(f"/{store['id']}{route}"), {"file_ids": ids}, format="json")
    assert response.status_code == 200
    assert response.json()["file_counts"]["total"] == 2000
    assert len(batch_body(fake_openai, store)) == 2000


def batch_body(fake_openai, store):
    """The files of the batch the fake was asked to create (file_ids or files)."""
    [created] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")
    return created.json.get("file_ids") or created.json["files"]


# --- GET /{id}/file_batches/{batch_id} -------------------------------------------------------------


def test_get_a_batch(api, batch_url, store, batch, fake_openai):
    response = api.get(batch_url())
    assert response.status_code == 200
    assert response.json() == fake_openai.file_batches[batch["id"]]
    assert response.json()["status"] == "in_progress"
    assert [(r.method, r.path) for r in fake_openai.requests] == [
        ("GET", f"/vector_stores/{store['id']}/file_batches/{batch['id']}")
    ]
    assert audited() == [("retrieve_file_batch", "GET", store["id"], 200)]


def test_a_batch_of_another_store_is_openais_404(api, url, batch, fake_openai):
    other = fake_openai.create_vector_store(name="other")
    response = api.get(url(f"/{other['id']}/file_batches/{batch['id']}"))
    assert (response.status_code, response.json()["code"]) == (404, "openai_not_found")


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (500, 502, "openai_server_error"),
        (429, 429, "openai_rate_limited"),
        (404, 404, "openai_not_found"),
    ],
)
def test_get_a_batch_maps_openais_errors(api, batch_url, store, batch, fake_openai, status, expected, code):
    fake_openai.fail("GET", f"/vector_stores/{store['id']}/file_batches/{batch['id']}", status)
    response = api.get(batch_url())
    assert (response.status_code, response.json()["code"]) == (expected, code)


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "/cancel"), ("get", "/files")])
def test_a_bad_batch_id_in_the_path_is_400_before_openai(api, url, store, fake_openai, bad_id, method, suffix):
    response = getattr(api, method)(url(f"/{store['id']}/file_batches/{bad_id}{suffix}"))
    assert_invalid(response, "batch_id")
    assert fake_openai.requests == []


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_a_bad_store_id_in_a_batch_path_is_400_before_openai(api, url, batch, fake_openai, bad_id):
    assert_invalid(api.post(url(f"/{bad_id}/file_batches"), {"file_ids": ["file-1"]}, format="json"), "id")
    assert_invalid(api.get(url(f"/{bad_id}/file_batches/{batch['id']}")), "id")
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("post", "", {"file_ids": ["file-1"]}),
        ("get", "/BATCH", None),
        ("post", "/BATCH/cancel", None),
        ("get", "/BATCH/files", None),
    ],
    ids=["create", "get", "cancel", "files"],
)
def test_someone_elses_credential_is_404_and_nothing_reaches_openai(
    other_user, url, store, batch, fake_openai, method, suffix, body
):
    path = url(f"/{store['id']}/file_batches{suffix.replace('BATCH', batch['id'])}")
    client = client_for(other_user)
    response = client.post(path, body, format="json") if method == "post" else client.get(path)
    assert (response.status_code, response.json()["code"]) == (404, "credential_not_found")
    assert fake_openai.requests == []
    assert audited()[0][2:] == (store["id"], 404)


# --- POST /{id}/file_batches/{batch_id}/cancel --------------------------------------------------------


def test_cancel_a_batch(api, batch_url, store, batch, files, fake_openai):
    response = api.post(batch_url("/cancel"))
    assert response.status_code == 200
    cancelled = response.json()
    assert (cancelled["id"], cancelled["status"], cancelled["file_counts"]["cancelled"]) == (
        batch["id"],
        "cancelled",
        3,
    )
    assert {fake_openai.vector_store_files[(store["id"], f)]["status"] for f in files} == {"cancelled"}
    [request] = fake_openai.requests
    assert (request.method, request.path) == ("POST", f"/vector_stores/{store['id']}/file_batches/{batch['id']}/cancel")
    assert audited() == [("cancel_file_batch", "POST", store["id"], 200)]


def test_cancel_takes_no_body_but_an_empty_one(api, batch_url, batch, fake_openai):
    assert api.post(batch_url("/cancel"), {}, format="json").status_code == 200


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (500, 502, "openai_server_error"),
        (404, 404, "openai_not_found"),
        (409, 409, "openai_conflict"),
    ],
)
def test_cancel_maps_openais_errors(api, batch_url, store, batch, fake_openai, status, expected, code):
    fake_openai.fail("POST", f"/vector_stores/{store['id']}/file_batches/{batch['id']}/cancel", status)
    response = api.post(batch_url("/cancel"))
    assert (response.status_code, response.json()["code"]) == (expected, code)
    assert audited() == [("cancel_file_batch", "POST", store["id"], expected)]


# --- GET /{id}/file_batches/{batch_id}/files -------------------------------------------------------


@pytest.fixture
def settled_batch(fake_openai, store):
    """A finished batch of four files, the last of which failed; the store holds one more file."""
    fake_openai.failing_filenames = {"bad.txt"}
    with fake_openai.lock:
        ids = [fake_openai.create_file(name)["id"] for name in ("a.txt", "b.txt", "c.txt", "bad.txt")]
        created = fake_openai.create_batch(store["id"], [(file_id, STATIC, None) for file_id in ids])
    fake_openai.attach_file(store["id"], fake_openai.create_file("not-in-the-batch.txt")["id"])
    return created["id"], ids


def test_list_batch_files_returns_every_file_of_the_batch(api, url, store, settled_batch, fake_openai):
    batch_id, ids = settled_batch
    response = api.get(url(f"/{store['id']}/file_batches/{batch_id}/files"))
    assert response.status_code == 200
    assert sorted(f["id"] for f in response.json()) == sorted(ids)
    assert "Link" not in response
    assert audited() == [("list_batch_files", "GET", store["id"], 200)]


def test_list_batch_files_passes_the_filter(api, url, store, settled_batch, fake_openai):
    batch_id, ids = settled_batch
    response = api.get(url(f"/{store['id']}/file_batches/{batch_id}/files", filter="failed"))
    assert [f["id"] for f in response.json()] == [ids[3]]
    assert fake_openai.requests[-1].query == {"filter": "failed", "limit": "100"}


def test_list_batch_files_pages_with_a_link(api, url, store, settled_batch, fake_openai):
    batch_id, ids = settled_batch
    response = api.get(url(f"/{store['id']}/file_batches/{batch_id}/files", limit=2, order="asc", filter="completed"))
    assert [f["id"] for f in response.json()] == ids[:2]
    link = response["Link"]
    assert f"after={ids[1]}" in link and "filter=completed" in link and link.endswith('>; rel="next"')
    assert fake_openai.requests[-1].query == {"limit": "2", "order": "asc", "filter": "completed"}
    rest = api.get(link[1 : link.index(">")])
    assert [f["id"] for f in rest.json()] == ids[2:3] and "Link" not in rest


def test_list_batch_files_follows_openais_pages(api, url, store, fake_openai):
    with fake_openai.lock:
        ids = [fake_openai.create_file(f"{n}.txt")["id"] for n in range(150)]
        batch_id = fake_openai.create_batch(store["id"], [(file_id, STATIC, None) for file_id in ids])["id"]
    response = api.get(url(f"/{store['id']}/file_batches/{batch_id}/files"))
    assert sorted(f["id"] for f in response.json()) == sorted(ids)
    assert len(fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/file_batches/{batch_id}/files")) == 2


@pytest.mark.parametrize(
    "query",
    [
        {"filter": "deleted"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "x"},
        {"order": "up"},
        {"after": "a.b"},
        {"before": "x" * 129},
    ],
    ids=["filter", "limit-0", "limit-101", "limit-text", "order", "after", "before"],
)
def test_invalid_batch_file_list_parameters_are_400(api, url, store, settled_batch, fake_openai, query):
    batch_id, _ = settled_batch
    assert_invalid(api.get(url(f"/{store['id']}/file_batches/{batch_id}/files", **query)), next(iter(query)))
    assert fake_openai.requests == []


def test_list_files_of_an_unknown_batch_is_openais_404(api, url, store, fake_openai):
    response = api.get(url(f"/{store['id']}/file_batches/vsfb_missing/files"))
    assert (response.status_code, response.json()["code"]) == (404, "openai_not_found")


def test_list_batch_files_maps_openais_errors(api, url, store, settled_batch, fake_openai):
    batch_id, _ = settled_batch
    fake_openai.fail("GET", f"/vector_stores/{store['id']}/file_batches/{batch_id}/files", 503)
    response = api.get(url(f"/{store['id']}/file_batches/{batch_id}/files"))
    assert (response.status_code, response.json()["code"]) == (502, "openai_server_error")


# --- the upload's attributes part ------------------------------------------------------------------


def upload_batch(fake_openai, store):
    """The JSON body of the file batch the upload created."""
    [created] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")
    return created.json


def test_upload_attributes_for_every_file(upload, store, fake_openai):
    attributes = {"team": "support", "year": 2024, "public": True}
    response = upload(text_file("a.txt"), text_file("b.txt"), attributes=json.dumps(attributes))
    assert response.status_code == 200
    ids = [f["id"] for f in response.json()]
    assert upload_batch(fake_openai, store) == {
        "files": [{"file_id": file_id, "attributes": attributes} for file_id in ids]
    }
    assert all(fake_openai.vector_store_files[(store["id"], f)]["attributes"] == attributes for f in ids)


def test_upload_attributes_per_file_name(upload, store, fake_openai):
    attributes = {"a.txt": {"lang": "en"}, "c.txt": {"lang": "fr", "rank": 2}}
    strategy = {"type": "auto"}
    response = upload(
        text_file("a.txt"),
        text_file("b.txt"),
        text_file("c.txt"),
        attributes=json.dumps(attributes),
        chunking_strategy=json.dumps(strategy),
    )
    assert response.status_code == 200
    a, b, c = (f["id"] for f in response.json())
    assert upload_batch(fake_openai, store) == {
        "files": [
            {"file_id": a, "attributes": {"lang": "en"}, "chunking_strategy": strategy},
            {"file_id": b, "chunking_strategy": strategy},
            {"file_id": c, "attributes": {"lang": "fr", "rank": 2}, "chunking_strategy": strategy},
        ]
    }
    assert fake_openai.vector_store_files[(store["id"], b)]["attributes"] == {}


def test_without_attributes_the_upload_batch_takes_file_ids(upload, store, fake_openai):
    response = upload(text_file("a.txt"))
    assert upload_batch(fake_openai, store) == {"file_ids": [response.json()[0]["id"]]}


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param('{"nobody.txt": {"a": 1}}', id="unknown-file-name"),
        pytest.param('{"a.txt": {"a": 1}, "nobody.txt": {"a": 2}}', id="one-unknown-file-name"),
        pytest.param(json.dumps({f"k{n}": n for n in range(17)}), id="17-keys"),
        pytest.param(json.dumps({"k" * 65: 1}), id="65-char-key"),
        pytest.param(json.dumps({"k": "v" * 513}), id="513-char-value"),
        pytest.param('{"k": [1, 2]}', id="list-value"),
        pytest.param('{"a.txt": {"k": [1]}}', id="list-value-of-a-file"),
        pytest.param('{"a.txt": {"k" : {"deep": 1}}}', id="object-value-of-a-file"),
        pytest.param('["a", "b"]', id="a-list"),
        pytest.param('"team"', id="a-string"),
        pytest.param("{not json", id="not-json"),
    ],
)
def test_invalid_upload_attributes_are_400_before_any_upload(upload, fake_openai, upload_dir, attributes):
    response = upload(text_file("a.txt"), text_file("b.txt"), attributes=attributes)
    assert_invalid(response, "attributes")
    assert fake_openai.requests == []  # not even the store was looked up
    assert list(upload_dir.iterdir()) == []


@pytest.mark.parametrize("part", ["attributes", "chunking_strategy"])
def test_a_part_given_twice_is_refused_not_half_dropped(upload, fake_openai, part):
    values = {"attributes": ['{"team": "a"}', '{"team": "b"}'], "chunking_strategy": ['{"type": "auto"}'] * 2}
    assert_invalid(upload(text_file("a.txt"), **{part: values[part]}), part)
    assert fake_openai.requests == []


def test_an_unknown_part_next_to_attributes_is_still_refused(upload, fake_openai):
    assert_invalid(upload(text_file("a.txt"), attributes="{}", tags="x"), "tags")
    assert fake_openai.requests == []


# --- the upload with ?wait=false ----------------------------------------------------------------------


@pytest.fixture
def upload_now(api, url, store, upload_dir):
    """upload_now(*files, **fields): the upload of `upload`, with ?wait=false."""

    def post(*files, **fields):
        return api.post(url(f"/{store['id']}", wait="false"), {"files": list(files), **fields}, format="multipart")

    return post


def test_upload_without_waiting_is_202_with_the_batch_and_its_location(upload_now, api, store, fake_openai, upload_dir):
    fake_openai.batch_processing_time = 30
    response = upload_now(text_file("a.txt"), text_file("b.txt"), attributes='{"team": "a"}')
    assert response.status_code == 202
    created = response.json()
    assert (created["object"], created["status"], created["file_counts"]["in_progress"]) == (
        "vector_store.files_batch",
        "in_progress",
        2,
    )
    uploads = fake_openai.requests_to("POST", "/files")
    assert sorted(r.decoded_filenames[0] for r in uploads) == ["a.txt", "b.txt"]
    assert len(upload_batch(fake_openai, store)["files"]) == 2
    assert fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/file_batches/") == []  # no polling
    assert list(upload_dir.iterdir()) == []

    location = response["Location"]
    assert location == (
        f"http://testserver/api/v1/openai-assistants-vector-store/{store['id']}/file_batches/"
        f"{created['id']}?credential={url_credential(response)}"
    )
    followed = api.get(location)
    assert followed.status_code == 200
    assert followed.json() == fake_openai.file_batches[created["id"]]
    assert audited() == [("upload_files", "POST", store["id"], 202), ("retrieve_file_batch", "GET", store["id"], 200)]


def url_credential(response):
    return response.wsgi_request.GET["credential"]


def test_upload_without_waiting_leaves_a_failing_batch_to_the_caller(upload_now, store, fake_openai):
    fake_openai.batch_outcome = "failed"
    response = upload_now(text_file("a.txt"))
    assert response.status_code == 202
    assert response.json()["status"] == "failed"  # as OpenAI created it: the caller follows it
    assert len(fake_openai.files) == 1  # nothing waited, so nothing was cleaned up


def test_an_upload_that_fails_before_the_batch_exists_is_cleaned_up_without_waiting_too(
    upload_now, store, fake_openai, upload_dir
):
    fake_openai.upload_delay = 0.2  # the first upload is done before the failing one answers
    fake_openai.fail("POST", "/files", 500, times=1)
    response = upload_now(text_file("a.txt"), text_file("b.txt"))
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "openai_server_error"
    assert fake_openai.files == {}  # the File that was uploaded was deleted again
    assert fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches") == []
    assert sorted((f["filename"], f["status"]) for f in body["files"]) in (
        [("a.txt", "upload_failed"), ("b.txt", "uploaded")],
        [("a.txt", "uploaded"), ("b.txt", "upload_failed")],
        [("a.txt", "upload_failed"), ("b.txt", "not_uploaded")],
        [("a.txt", "not_uploaded"), ("b.txt", "upload_failed")],
    )
    assert list(upload_dir.iterdir()) == []


def test_an_upload_whose_batch_is_refused_is_cleaned_up_without_waiting_too(upload_now, store, fake_openai):
    fake_openai.fail("POST", f"/vector_stores/{store['id']}/file_batches", 400)
    response = upload_now(text_file("a.txt"), text_file("b.txt"))
    assert (response.status_code, response.json()["code"]) == (400, "openai_bad_request")
    assert fake_openai.files == {}
    assert all(f["file_deleted"] for f in response.json()["files"])


@pytest.mark.parametrize("wait", ["maybe", "2", "yess"])
def test_upload_wait_must_be_a_boolean(api, url, store, fake_openai, upload_dir, wait):
    response = api.post(url(f"/{store['id']}", wait=wait), {"files": [text_file("a.txt")]}, format="multipart")
    assert_invalid(response, "wait")
    assert fake_openai.requests == []
