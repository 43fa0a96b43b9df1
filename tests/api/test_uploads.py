"""POST /{id} (multipart): files go to OpenAI concurrently, are attached in one batch, and nothing is left behind."""

import time
from types import SimpleNamespace

import pytest

from tests.conftest import text_file
from vectorstores.gateway import file_batches
from vectorstores.gateway.file_batches import MIN_POLL_SECONDS

pytestmark = pytest.mark.django_db

NON_ASCII_NAMES = ["résumé 2024 – 日本語.pdf", "quote \"double\" and 'single'.txt", "spaces  & (parens) [1] #2.md"]


def test_upload_returns_the_openai_file_objects_and_attaches_them(upload, store, fake_openai, upload_dir):
    response = upload(text_file("a.txt"), text_file("b.md", b"# b"))
    assert response.status_code == 200
    files = response.json()
    assert [f["filename"] for f in files] == ["a.txt", "b.md"]
    for file in files:
        assert file["object"] == "file"
        assert file["purpose"] == "assistants"
        assert file == fake_openai.files[file["id"]]
        assert fake_openai.vector_store_files[(store["id"], file["id"])]["status"] == "completed"
    assert len(fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")) == 1
    assert fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")[0].json["file_ids"] == [
        f["id"] for f in files
    ]
    assert list(upload_dir.iterdir()) == []


def pdf_file(name, size=1000):
    return text_file(name, b"%PDF-1.7\n" + b"x" * size, "application/pdf")


def test_non_ascii_file_names_reach_openai_and_come_back_byte_for_byte(upload, fake_openai):
    big = pdf_file(NON_ASCII_NAMES[0], 3 * 1024 * 1024)
    response = upload(big, *(text_file(name, b"small") for name in NON_ASCII_NAMES[1:]))
    assert response.status_code == 200
    assert sorted(f["filename"] for f in response.json()) == sorted(NON_ASCII_NAMES)
    uploads = fake_openai.requests_to("POST", "/files")
    assert sorted(r.decoded_filenames[0] for r in uploads) == sorted(NON_ASCII_NAMES)
    raw = {r.decoded_filenames[0]: r.filenames[0] for r in uploads}
    assert raw["résumé 2024 – 日本語.pdf"] == "résumé 2024 – 日本語.pdf".encode()
    assert raw["quote \"double\" and 'single'.txt"] == b"quote %22double%22 and 'single'.txt"
    assert sorted(r.file_sizes[0] for r in uploads) == [5, 5, big.size]


def test_chunking_strategy_is_passed_to_the_batch(upload, store, fake_openai):
    strategy = '{"type": "static", "static": {"max_chunk_size_tokens": 1000, "chunk_overlap_tokens": 100}}'
    assert upload(text_file("a.txt"), chunking_strategy=strategy).status_code == 200
    batch = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")[0]
    assert batch.json["chunking_strategy"] == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 1000, "chunk_overlap_tokens": 100},
    }


@pytest.mark.parametrize("strategy", ["not json", '{"type": "static"}', '{"type": "auto", "x": 1}', "[]"])
def test_invalid_chunking_strategy_is_400_before_any_upload(upload, strategy, fake_openai):
    response = upload(text_file("a.txt"), chunking_strategy=strategy)
    assert response.status_code == 400
    assert "chunking_strategy" in response.json()["errors"]
    assert fake_openai.requests_to("POST", "/files") == []


def test_no_files_is_400(api, url, store, fake_openai):
    response = api.post(url(f"/{store['id']}"), {}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["files"] == ["No files."]


def test_an_empty_file_is_400_naming_it(upload, fake_openai, upload_dir):
    response = upload(text_file("full.txt"), text_file("empty.txt", b""))
    assert response.status_code == 400
    assert "empty.txt" in response.json()["detail"]
    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []


def test_parts_with_another_name_are_rejected(api, url, store, fake_openai):
    response = api.post(url(f"/{store['id']}"), {"file": [text_file("a.txt")]}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_a_json_body_is_415(api, url, store):
    response = api.post(url(f"/{store['id']}"), {"files": []}, format="json")
    assert response.status_code == 415


def test_unknown_store_is_404_before_any_upload(upload, fake_openai):
    response = upload(text_file("a.txt"), store_id="vs_missing")
    assert response.status_code == 404
    assert fake_openai.requests_to("POST", "/files") == []


def test_uploads_run_concurrently_up_to_the_configured_number(upload, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "UPLOAD_CONCURRENCY": 3}
    fake_openai.upload_delay = 0.5  # each upload held long enough for the others to join it
    response = upload(*(text_file(f"f{n}.txt") for n in range(7)))
    assert response.status_code == 200
    # By the fake's record: three at OpenAI at once, never more.
    assert fake_openai.peak_overlap("POST", "/files") == 3


def test_a_slow_batch_is_polled_until_it_completes(upload, store, fake_openai):
    fake_openai.batch_processing_time = 0.3
    response = upload(text_file("a.txt"))
    assert response.status_code == 200
    polls = [r for r in fake_openai.requests if r.method == "GET" and "/file_batches/" in r.path]
    assert len(polls) >= 2


def test_a_failed_batch_is_500_reports_each_file_and_leaves_no_orphans(upload, store, fake_openai, upload_dir):
    fake_openai.batch_outcome = "failed"
    response = upload(text_file("a.txt"), text_file("b.txt"))
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "batch_failed"
    assert [(f["filename"], f["status"], f["file_deleted"]) for f in body["files"]] == [
        ("a.txt", "failed", True),
        ("b.txt", "failed", True),
    ]
    assert all(f["id"].startswith("file-") for f in body["files"])
    assert fake_openai.files == {}
    assert [key for key in fake_openai.vector_store_files if key[0] == store["id"]] == []
    assert list(upload_dir.iterdir()) == []


def test_files_that_failed_in_a_completed_batch_are_removed_and_reported(upload, store, fake_openai):
    fake_openai.failing_filenames = {"bad.txt"}
    response = upload(text_file("good.txt"), text_file("bad.txt"))
    assert response.status_code == 500
    report = {f["filename"]: f for f in response.json()["files"]}
    assert report["good.txt"]["status"] == "completed" and not report["good.txt"]["file_deleted"]
    assert report["bad.txt"]["status"] == "failed" and report["bad.txt"]["file_deleted"]
    assert report["bad.txt"]["error"]
    assert [f["filename"] for f in fake_openai.files.values()] == ["good.txt"]


def test_a_batch_that_does_not_finish_in_time_is_cancelled_and_504(upload, store, fake_openai, settings):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "POLL_TIMEOUT": 0.2}
    fake_openai.batch_processing_time = 30
    response = upload(text_file("a.txt"))
    assert response.status_code == 504
    assert response.json()["code"] == "batch_timeout"
    assert fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches/")[-1].path.endswith("/cancel")
    assert fake_openai.files == {}


def test_a_failed_upload_deletes_the_files_already_uploaded(upload, fake_openai, upload_dir):
    fake_openai.fail("POST", "/files", 500, times=1)
    response = upload(text_file("a.txt"), text_file("b.txt"), text_file("c.txt"))
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "openai_server_error"
    assert len(body["files"]) == 3
    assert sum(f["status"] == "upload_failed" for f in body["files"]) == 1
    assert fake_openai.files == {}
    assert fake_openai.requests_to("POST", "/vector_stores") == []  # no batch
    assert list(upload_dir.iterdir()) == []


def test_a_failed_batch_creation_deletes_the_uploaded_files(upload, store, fake_openai):
    fake_openai.fail("POST", f"/vector_stores/{store['id']}/file_batches", 429, headers={"Retry-After": "9"})
    response = upload(text_file("a.txt"))
    assert response.status_code == 429
    assert response["Retry-After"] == "9"
    assert response.json()["files"][0]["file_deleted"] is True
    assert fake_openai.files == {}


def test_cleanup_that_fails_says_which_files_may_remain(upload, store, fake_openai):
    fake_openai.batch_outcome = "failed"
    fake_openai.fail("DELETE", "/files/.*", 500, times=10)
    response = upload(text_file("a.txt"))
    assert response.status_code == 500
    leftover = next(iter(fake_openai.files))
    assert leftover in response.json()["detail"]
    assert response.json()["files"][0]["file_deleted"] is False


def test_too_many_files_is_413_and_leaves_nothing(upload, settings, fake_openai, upload_dir):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_FILES_PER_UPLOAD": 2}
    response = upload(*(text_file(f"{n}.txt") for n in range(3)))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []


def test_a_file_over_the_size_limit_is_413_naming_it(upload, settings, fake_openai, upload_dir):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_FILE_SIZE": 1000}
    response = upload(text_file("small.txt", b"x" * 10), text_file("big.txt", b"x" * 5000))
    assert response.status_code == 413
    assert "big.txt" in response.json()["detail"]
    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []


def test_a_request_over_the_total_limit_is_413(upload, settings, fake_openai, upload_dir):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_UPLOAD_SIZE": 1000}
    response = upload(text_file("a.txt", b"x" * 600), text_file("b.txt", b"x" * 600))
    assert response.status_code == 413
    assert list(upload_dir.iterdir()) == []


@pytest.fixture
def poll_waits(monkeypatch):
    """The waits a batch's polling sleeps, in order (slept for real). Read from what the poller asked, not
    from the clock, so a loaded machine's stalls change no figure."""
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(file_batches, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    return waits


@pytest.mark.parametrize(
    ("hint", "wait"), [("-5", 0.1), ("1e3", 0.1), ("999999999", 0.1), ("0", MIN_POLL_SECONDS), ("250", 0.25)]
)
def test_a_poll_hint_of_another_form_is_not_slept_on(upload, store, fake_openai, settings, poll_waits, hint, wait):
    """A hostile upstream's hint: a negative one was a 500 (time.sleep refused it), 0 had the worker poll
    without a pause, 9 digits held it until POLL_TIMEOUT. Each is ignored for POLL_INTERVAL (0.1 s here),
    0 is waited MIN_POLL_SECONDS, and whole milliseconds are believed."""
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "POLL_INTERVAL": 0.1}
    fake_openai.batch_processing_time, fake_openai.poll_after_ms = 1.0, hint

    response = upload(text_file("a.txt", b"alpha"))

    assert response.status_code == 200, response.content
    assert poll_waits[0] == 0 and len(poll_waits) > 1  # the first poll at once, then as the answers said
    assert set(poll_waits[1:]) == {wait}


def test_djangos_own_file_count_limit_is_413_too(upload, settings, fake_openai, upload_dir):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    response = upload(*(text_file(f"{n}.txt") for n in range(3)))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert list(upload_dir.iterdir()) == []


def test_the_first_poll_goes_at_once_and_then_follows_openai_poll_after_ms(
    upload, store, fake_openai, settings, poll_waits
):
    """A batch done in a second is polled right away and then every 50 ms, never after a blind POLL_INTERVAL."""
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "POLL_INTERVAL": 5.0}
    fake_openai.batch_processing_time, fake_openai.poll_after_ms = 1.0, 50
    response = upload(text_file("a.txt", b"alpha"))
    assert response.status_code == 200, response.content

    assert poll_waits[0] == 0 and len(poll_waits) > 1
    assert set(poll_waits[1:]) == {0.05}
    polls = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/file_batches/")
    assert len(polls) == len(poll_waits)
