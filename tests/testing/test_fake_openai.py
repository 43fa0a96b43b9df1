"""Tests of the fake OpenAI server itself, driven through the real `openai` SDK (no Django needed)."""

import http.client
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from openai import OpenAI

from vectorstores.testing.fake_openai import FakeOpenAI, RecordedRequest
from vectorstores.testing.fake_openai.multipart import parse_multipart
from vectorstores.testing.fake_openai.server import peak_overlap

API_KEY = "sk-test-fake-openai-0123456789abcdef"


@pytest.fixture(scope="module")
def server():
    fake = FakeOpenAI(api_keys={API_KEY})
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server):
    server.reset()
    return server


@pytest.fixture
def sdk(fake):
    with OpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=0) as client:
        yield client


def raw_request(fake, method, path, body=b"", headers=None):
    """Send a request the SDK would never send; returns (status, headers, parsed JSON)."""
    host, port = fake.base_url.removeprefix("http://").removesuffix("/v1").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request(method, path, body=body, headers={"Authorization": f"Bearer {API_KEY}", **(headers or {})})
    response = connection.getresponse()
    result = response.status, dict(response.getheaders()), json.loads(response.read())
    connection.close()
    return result


def test_rejects_unknown_key_without_echoing_it(fake):
    bad_key = "sk-test-not-a-real-key-987654321"
    with OpenAI(api_key=bad_key, base_url=fake.base_url, max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            client.vector_stores.list()
    error = raised.value
    assert error.code == "invalid_api_key"
    assert bad_key not in error.message and error.body["message"].startswith("Incorrect API key provided: sk-te")
    assert re.fullmatch(r"req_[0-9a-f]{32}", error.response.headers["x-request-id"])
    assert fake.requests_to("GET", "/vector_stores")[0].headers["authorization"] == f"Bearer {bad_key}"


def test_removed_key_is_rejected_until_reset(fake, sdk):
    fake.api_keys.discard(API_KEY)
    with pytest.raises(openai.AuthenticationError):
        sdk.files.list()
    fake.reset()
    assert list(sdk.files.list()) == []


def test_vector_store_crud(fake, sdk):
    file = fake.create_file("a.txt", b"12345")
    store = sdk.vector_stores.create(
        name="docs",
        file_ids=[file["id"]],
        metadata={"team": "search"},
        expires_after={"anchor": "last_active_at", "days": 2},
    )
    assert re.fullmatch(r"vs_[A-Za-z0-9]{24}", store.id)
    assert store.file_counts.completed == 1 and store.usage_bytes == 5 and store.status == "completed"
    assert store.expires_at == store.last_active_at + 2 * 86400
    assert fake.vector_stores[store.id]["metadata"] == {"team": "search"}

    updated = sdk.vector_stores.update(store.id, name="renamed", expires_after=None)
    assert (updated.name, updated.expires_after, updated.expires_at) == ("renamed", None, None)
    assert sdk.vector_stores.retrieve(store.id).name == "renamed"

    deleted = sdk.vector_stores.delete(store.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (store.id, "vector_store.deleted", True)
    assert fake.vector_store_files == {} and file["id"] in fake.files
    with pytest.raises(openai.NotFoundError, match=f"No vector store found with id '{store.id}'"):
        sdk.vector_stores.retrieve(store.id)


def test_vector_store_validation(sdk):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.vector_stores.create(name="x", extra_body={"colour": "blue"})
    assert raised.value.param == "colour"
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.vector_stores.create(metadata={f"k{i}": "v" for i in range(17)})
    assert raised.value.param == "metadata"
    with pytest.raises(openai.BadRequestError, match="file-missing"):
        sdk.vector_stores.create(file_ids=["file-missing"])
    with pytest.raises(openai.BadRequestError):
        sdk.vector_stores.list(limit=101)


def test_paging_with_limit_after_and_before(fake, sdk):
    ids = [fake.create_vector_store(name=f"store {i}")["id"] for i in range(5)]  # same second: sequence orders them
    newest_first = ids[::-1]

    first = sdk.vector_stores.list(limit=2)
    assert [store.id for store in first.data] == newest_first[:2] and first.has_more
    second = sdk.vector_stores.list(limit=2, after=first.data[-1].id)
    assert [store.id for store in second.data] == newest_first[2:4] and second.has_more
    back = sdk.vector_stores.list(limit=2, before=second.data[0].id)
    assert [store.id for store in back.data] == newest_first[:2] and not back.has_more
    oldest = sdk.vector_stores.list(limit=10, order="asc")
    assert [store.id for store in oldest.data] == ids and not oldest.has_more
    assert [store.id for store in sdk.vector_stores.list(limit=2)] == newest_first  # SDK auto-paging


def test_upload_records_raw_and_decoded_filename(fake, sdk):
    name = 'résumé 2024 – 日本語 "q".pdf'
    uploaded = sdk.files.create(file=(name, b"%PDF-1.7 body"), purpose="assistants")

    assert uploaded.filename == name and uploaded.bytes == 13 and uploaded.status == "processed"
    assert re.fullmatch(r"file-[A-Za-z0-9]{22}", uploaded.id)
    [request] = fake.requests_to("POST", "/files")
    assert request.filenames == [name.replace('"', "%22").encode()]  # httpx2's HTML5 escaping, as sent
    assert request.decoded_filenames == [name]
    assert (request.form, request.file_sizes) == ({"purpose": "assistants"}, [13])
    assert fake.file_contents[uploaded.id] == b"%PDF-1.7 body"
    assert sdk.files.retrieve(uploaded.id).filename == name


def test_upload_requires_purpose(sdk):
    with pytest.raises(openai.BadRequestError) as raised:
        # `purpose` is a required SDK argument; a None in extra_body drops it from the form.
        sdk.files.create(file=("a.txt", b"x"), purpose="", extra_body={"purpose": None})
    assert raised.value.param == "purpose"


def test_multipart_parser_undoes_escaping_and_reads_rfc5987():
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="a%0D%0Ab\\\\c%22.txt"\r\n\r\nxy\r\n'
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename*=utf-8''%C3%A9t%C3%A9.txt\r\n\r\n\r\n"
        b'--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--B--\r\n'
    )
    fields, files = parse_multipart("multipart/form-data; boundary=B", body)
    assert fields == {"purpose": "assistants"}
    assert [part.filename for part in files] == ['a\r\nb\\c".txt', "été.txt"]
    assert [part.content for part in files] == [b"xy", b""]


def test_delete_file_detaches_it_everywhere(fake, sdk):
    file = fake.create_file("a.txt")
    stores = [fake.create_vector_store(file_ids=[file["id"]])["id"] for _ in range(2)]
    assert sdk.files.delete(file["id"]).deleted
    assert all(sdk.vector_stores.retrieve(vs_id).file_counts.total == 0 for vs_id in stores)
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(file["id"])


def test_vector_store_file_lifecycle(fake, sdk):
    store = fake.create_vector_store()
    file = fake.create_file("notes.md", b"abc")
    attached = sdk.vector_stores.files.create(
        vector_store_id=store["id"], file_id=file["id"], attributes={"lang": "en"}
    )
    assert (attached.status, attached.usage_bytes, attached.attributes) == ("completed", 3, {"lang": "en"})
    assert attached.chunking_strategy.static.max_chunk_size_tokens == 800
    assert [f.id for f in sdk.vector_stores.files.list(vector_store_id=store["id"], filter="completed")] == [file["id"]]
    detached = sdk.vector_stores.files.delete(file["id"], vector_store_id=store["id"])
    assert detached.object == "vector_store.file.deleted"
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.files.delete(file["id"], vector_store_id=store["id"])


def test_batch_stays_in_progress_then_completes(fake, sdk):
    fake.batch_processing_time = 1.0  # long enough to still be in progress on a loaded machine
    fake.poll_after_ms = 20
    store = fake.create_vector_store()
    file_ids = [fake.create_file(f"{i}.txt", b"data")["id"] for i in range(3)]

    batch = sdk.vector_stores.file_batches.create(vector_store_id=store["id"], file_ids=file_ids)
    assert re.fullmatch(r"vsfb_[A-Za-z0-9]{24}", batch.id)
    assert (batch.status, batch.file_counts.in_progress) == ("in_progress", 3)
    assert sdk.vector_stores.retrieve(store["id"]).status == "in_progress"
    raw = sdk.vector_stores.file_batches.with_raw_response.retrieve(batch.id, vector_store_id=store["id"])
    assert raw.headers["openai-poll-after-ms"] == "20"

    started = time.monotonic()
    done = sdk.vector_stores.file_batches.poll(batch.id, vector_store_id=store["id"])
    assert time.monotonic() - started < 3
    assert (done.status, done.file_counts.completed, done.file_counts.total) == ("completed", 3, 3)
    settled_store = sdk.vector_stores.retrieve(store["id"])
    assert (settled_store.status, settled_store.usage_bytes) == ("completed", 12)
    assert fake.batch_file_ids[batch.id] == file_ids


def test_batch_failed_outcome(fake, sdk):
    fake.batch_outcome = "failed"
    store = fake.create_vector_store()
    file_id = fake.create_file("a.txt")["id"]
    batch = sdk.vector_stores.file_batches.create(vector_store_id=store["id"], file_ids=[file_id])
    assert (batch.status, batch.file_counts.failed) == ("failed", 1)
    vs_file = sdk.vector_stores.files.retrieve(file_id, vector_store_id=store["id"])
    assert vs_file.status == "failed" and vs_file.last_error.code == "server_error"


def test_cancel_batch(fake, sdk):
    fake.batch_processing_time = 60
    store = fake.create_vector_store()
    file_ids = [fake.create_file(f"{i}.txt")["id"] for i in range(2)]
    batch = sdk.vector_stores.file_batches.create(vector_store_id=store["id"], file_ids=file_ids)

    cancelled = sdk.vector_stores.file_batches.cancel(batch.id, vector_store_id=store["id"])
    assert (cancelled.status, cancelled.file_counts.cancelled, cancelled.file_counts.in_progress) == ("cancelled", 2, 0)
    assert sdk.vector_stores.file_batches.cancel(batch.id, vector_store_id=store["id"]).status == "cancelled"
    files = sdk.vector_stores.file_batches.list_files(batch.id, vector_store_id=store["id"])
    assert {f.status for f in files} == {"cancelled"}


def test_failing_filenames_fail_inside_a_completed_batch(fake, sdk):
    fake.failing_filenames = {"bad.exe"}
    store = fake.create_vector_store()
    good, bad = fake.create_file("good.txt")["id"], fake.create_file("bad.exe")["id"]
    batch = sdk.vector_stores.file_batches.create_and_poll(vector_store_id=store["id"], file_ids=[good, bad])
    assert (batch.status, batch.file_counts.completed, batch.file_counts.failed) == ("completed", 1, 1)
    [failed] = sdk.vector_stores.file_batches.list_files(batch.id, vector_store_id=store["id"], filter="failed")
    assert failed.id == bad and failed.last_error.code == "unsupported_file"
    assert sdk.vector_stores.retrieve(store["id"]).file_counts.failed == 1


def test_fault_injection_with_retry_after(fake, sdk):
    fake.fail("POST", "/vector_stores", 429, headers={"Retry-After": "7"})
    with pytest.raises(openai.RateLimitError) as raised:
        sdk.vector_stores.create(name="x")
    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.code == "rate_limit_exceeded" and fake.vector_stores == {}

    assert sdk.vector_stores.create(name="x").name == "x"  # the fault was used up
    assert len(fake.requests_to("POST", "/vector_stores")) == 2


def test_fault_with_custom_body_repeats(fake, sdk):
    fake.fail(
        "GET",
        r"/files/[^/]+",
        503,
        body={"error": {"message": "down", "type": "server_error", "param": None, "code": None}},
        times=2,
    )
    for _ in range(2):
        with pytest.raises(openai.InternalServerError, match="down"):
            sdk.files.retrieve("file-x")
    with pytest.raises(openai.NotFoundError, match="No such File object: file-x"):
        sdk.files.retrieve("file-x")


def test_uploads_overlap(fake, sdk):
    fake.upload_delay = 0.3
    with ThreadPoolExecutor(max_workers=5) as pool:
        uploads = list(pool.map(lambda i: sdk.files.create(file=(f"{i}.txt", b"x"), purpose="assistants"), range(5)))
    assert len({upload.id for upload in uploads}) == 5 == len(fake.files)
    # The fake handled them side by side (by its own record), not one after another.
    assert fake.peak_overlap("POST", "/files") >= 2


def test_requests_one_after_another_do_not_overlap(fake, sdk):
    fake.upload_delay = 0.05
    for i in range(3):
        sdk.files.create(file=(f"{i}.txt", b"x"), purpose="assistants")
    sdk.files.list()
    assert fake.peak_overlap("POST", "/files") == 1
    assert fake.peak_overlap("GET", "/files") == 1
    assert fake.peak_overlap("DELETE", "/files") == 0  # none of them


def test_each_request_is_stamped_when_received_and_when_answered(fake, sdk):
    fake.delay("GET", "/files", 0.2)
    before = time.monotonic()
    sdk.files.list()
    sdk.vector_stores.list()
    after = time.monotonic()

    slow, quick = fake.requests
    assert before <= slow.received_at <= slow.answered_at <= quick.received_at <= quick.answered_at <= after
    assert slow.answered_at - slow.received_at >= 0.2  # the delay rule held it that long


def test_a_request_in_flight_has_no_answer_time_yet(fake, sdk):
    fake.delay("GET", "/files", 0.5)
    with ThreadPoolExecutor(max_workers=1) as pool:
        listing = pool.submit(sdk.files.list)
        deadline = time.monotonic() + 10
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        [request] = fake.requests
        assert request.received_at is not None and request.answered_at is None
        assert fake.peak_overlap("GET", "/files") == 1  # in flight counts
        listing.result(timeout=10)
    assert request.answered_at >= request.received_at + 0.5


def at(received_at, answered_at):
    return RecordedRequest("GET", "/files", {}, {}, received_at=received_at, answered_at=answered_at)


@pytest.mark.parametrize(
    ("spans", "peak"),
    [
        ([], 0),
        ([(0, 1)], 1),
        ([(0, 1), (2, 3)], 1),  # one after another
        ([(0, 1), (1, 2)], 1),  # one ends as the next starts: not at once
        ([(0, 3), (1, 2)], 2),  # one inside the other
        ([(0, 2), (1, 3), (2.5, 4)], 2),  # a chain: never three at once
        ([(0, 4), (1, 3), (2, 5), (6, 7)], 3),
        ([(0, None), (5, 6), (10, 11)], 2),  # a request still in flight overlaps everything after it
        ([(None, None), (0, 1)], 1),  # never received: not counted
    ],
    ids=["none", "one", "apart", "touching", "nested", "chain", "three", "in-flight", "unstamped"],
)
def test_peak_overlap_counts_the_most_requests_in_flight_at_one_moment(spans, peak):
    assert peak_overlap([at(received, answered) for received, answered in spans]) == peak


def test_search_scores_and_filters(fake, sdk):
    store = fake.create_vector_store()
    documents = {"both.txt": b"The quick brown fox jumps.", "fox.txt": b"A fox.", "none.txt": b"Nothing here."}
    for name, content in documents.items():
        file_id = fake.create_file(name, content)["id"]
        sdk.vector_stores.files.create(vector_store_id=store["id"], file_id=file_id, attributes={"name": name})

    results = list(sdk.vector_stores.search(store["id"], query="quick fox"))
    assert [(r.filename, r.score) for r in results] == [("both.txt", 1.0), ("fox.txt", 0.5)]
    assert results[0].content[0].text == "The quick brown fox jumps."
    page = sdk.vector_stores.search(store["id"], query=["FOX"], max_num_results=1)
    assert page.search_query == ["FOX"] and len(page.data) == 1
    filtered = sdk.vector_stores.search(
        store["id"], query="fox", filters={"type": "eq", "key": "name", "value": "fox.txt"}
    )
    assert [r.filename for r in filtered] == ["fox.txt"]
    with pytest.raises(openai.BadRequestError):
        sdk.vector_stores.search(store["id"], query="fox", max_num_results=51)


def test_malformed_json_and_unknown_route(fake):
    status, headers, body = raw_request(
        fake, "POST", "/v1/vector_stores", b"{not json", {"Content-Type": "application/json"}
    )
    assert status == 400 and "could not parse the JSON body" in body["error"]["message"]
    assert headers["Content-Type"] == "application/json"
    status, _, body = raw_request(fake, "GET", "/v1/nowhere")
    assert status == 404 and body["error"]["message"] == "Invalid URL (GET /v1/nowhere)"


# --- content: a vector store file's parsed content, and a File's bytes ---------------------------


def test_vector_store_file_content_is_one_page_of_the_files_text(fake, sdk):
    store = fake.create_vector_store()
    file = fake.create_file("notes.md", "# Notes\nété".encode())
    fake.attach_file(store["id"], file["id"])

    raw = sdk.vector_stores.files.with_raw_response.content(file["id"], vector_store_id=store["id"])
    assert raw.http_response.json() == {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": "# Notes\nété"}],
        "has_more": False,
        "next_page": None,
    }
    assert [piece.text for piece in sdk.vector_stores.files.content(file["id"], vector_store_id=store["id"])] == [
        "# Notes\nété"
    ]
    requests = fake.requests_to("GET", f"/vector_stores/{store['id']}/files/{file['id']}/content")
    assert [request.query for request in requests] == [{}, {}]


def test_content_pages_with_content_page_chars_and_next_page_tokens(fake):
    fake.content_page_chars = 10
    store = fake.create_vector_store()
    file = fake.create_file("a.txt", b"0123456789abcdefghijKLMNO")
    fake.attach_file(store["id"], file["id"])
    path = f"/v1/vector_stores/{store['id']}/files/{file['id']}/content"

    texts, query, tokens = [], "", []
    while True:
        status, _, page = raw_request(fake, "GET", path + query)
        assert status == 200 and page["object"] == "vector_store.file_content.page"
        texts += [piece["text"] for piece in page["data"]]
        if not page["has_more"]:
            assert page["next_page"] is None
            break
        assert isinstance(page["next_page"], str) and page["next_page"]
        tokens.append(page["next_page"])
        query = f"?page={page['next_page']}"
    assert texts == ["0123456789", "abcdefghij", "KLMNO"]
    assert [request.query for request in fake.requests_to("GET", path[3:])] == [
        {},
        *({"page": token} for token in tokens),
    ]


def test_content_page_tokens_are_checked(fake):
    fake.content_page_chars = 4
    store = fake.create_vector_store()
    first, second = (fake.create_file(name, b"abcdefgh") for name in ("a.txt", "b.txt"))
    for file in (first, second):
        fake.attach_file(store["id"], file["id"])
    path = f"/v1/vector_stores/{store['id']}/files/{{}}/content"
    _, _, page = raw_request(fake, "GET", path.format(first["id"]))
    assert page["has_more"]

    status, _, body = raw_request(fake, "GET", path.format(second["id"]) + f"?page={page['next_page']}")
    assert status == 400 and body["error"]["param"] == "page"  # another file's token
    for token in ("nonsense", "", "%FF"):
        status, _, body = raw_request(fake, "GET", path.format(first["id"]) + f"?page={token}")
        assert status == 400 and body["error"]["param"] == "page", token


def test_content_of_an_empty_file_has_no_text_and_unknown_files_are_404(fake, sdk):
    store = fake.create_vector_store()
    empty = fake.create_file("empty.txt", b"")
    fake.attach_file(store["id"], empty["id"])
    raw = sdk.vector_stores.files.with_raw_response.content(empty["id"], vector_store_id=store["id"])
    assert raw.http_response.json() == {
        "object": "vector_store.file_content.page",
        "data": [],
        "has_more": False,
        "next_page": None,
    }
    detached = fake.create_file("elsewhere.txt")
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.files.content(detached["id"], vector_store_id=store["id"])
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.files.content(empty["id"], vector_store_id="vs_missing")


def test_file_content_is_the_files_bytes(fake, sdk):
    content = b"%PDF-1.7\n\x00\xff binary"
    file = fake.create_file("a.pdf", content)
    response = sdk.files.content(file["id"])
    assert response.content == content
    assert response.response.headers["content-type"] == "application/octet-stream"
    with pytest.raises(openai.NotFoundError):
        sdk.files.content("file-missing")


# --- what the API's new routes rely on ---------------------------------------------------------------


def test_update_attributes_replaces_and_null_clears_them(fake, sdk):
    store = fake.create_vector_store()
    file = fake.create_file("a.txt")
    fake.attach_file(store["id"], file["id"])
    updated = sdk.vector_stores.files.update(
        file["id"], vector_store_id=store["id"], attributes={"lang": "en", "year": 2024, "draft": False}
    )
    assert updated.attributes == {"lang": "en", "year": 2024, "draft": False}
    assert sdk.vector_stores.files.update(file["id"], vector_store_id=store["id"], attributes=None).attributes == {}
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.vector_stores.files.update(
            file["id"], vector_store_id=store["id"], attributes={f"k{n}": n for n in range(17)}
        )
    assert raised.value.param == "attributes"
    with pytest.raises(openai.BadRequestError):
        sdk.vector_stores.files.update(file["id"], vector_store_id=store["id"], attributes={"nested": {"a": 1}})


def test_a_batch_of_files_takes_each_files_own_attributes_and_chunking(fake, sdk):
    store = fake.create_vector_store()
    a, b = (fake.create_file(name)["id"] for name in ("a.txt", "b.txt"))
    static = {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}}
    batch = sdk.vector_stores.file_batches.create(
        vector_store_id=store["id"],
        files=[{"file_id": a, "attributes": {"team": "a"}, "chunking_strategy": static}, {"file_id": b}],
    )
    assert (batch.status, batch.file_counts.completed) == ("completed", 2)
    assert fake.vector_store_files[(store["id"], a)]["attributes"] == {"team": "a"}
    assert fake.vector_store_files[(store["id"], a)]["chunking_strategy"] == static
    assert fake.vector_store_files[(store["id"], b)]["attributes"] == {}
    with pytest.raises(openai.BadRequestError):  # file_ids and files are mutually exclusive
        sdk.vector_stores.file_batches.create(vector_store_id=store["id"], file_ids=[a], files=[{"file_id": b}])


def test_batch_files_list_filters_by_status(fake, sdk):
    fake.failing_filenames = {"bad.txt"}
    store = fake.create_vector_store()
    good, bad = fake.create_file("good.txt")["id"], fake.create_file("bad.txt")["id"]
    other = fake.create_file("other.txt")["id"]
    fake.attach_file(store["id"], other)  # in the store, not in the batch
    batch = sdk.vector_stores.file_batches.create(vector_store_id=store["id"], file_ids=[good, bad])

    def listed(**query):
        return [f.id for f in sdk.vector_stores.file_batches.list_files(batch.id, vector_store_id=store["id"], **query)]

    assert sorted(listed()) == sorted([good, bad])
    assert listed(filter="completed") == [good]
    assert listed(filter="failed") == [bad]
    assert listed(filter="cancelled") == []
    with pytest.raises(openai.BadRequestError):
        listed(filter="deleted")


def test_cancelling_a_final_batch_leaves_it_as_it_is(fake, sdk):
    store = fake.create_vector_store()
    batch = sdk.vector_stores.file_batches.create(
        vector_store_id=store["id"], file_ids=[fake.create_file("a.txt")["id"]]
    )
    assert batch.status == "completed"
    assert sdk.vector_stores.file_batches.cancel(batch.id, vector_store_id=store["id"]).status == "completed"
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.file_batches.cancel(batch.id, vector_store_id=fake.create_vector_store()["id"])
