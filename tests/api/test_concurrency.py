"""Concurrent requests against a live server on loopback: nothing mixed up, nothing lost.

Real threads send real HTTP requests to a live server (pytest-django's LiveServer: a threaded WSGI
server in this process, on 127.0.0.1), which calls the fake OpenAI over real HTTP too. The fake is slowed
down so that the requests genuinely overlap, and each test checks that they did where it matters: at
OpenAI, by the fake's own record of when it received and answered each request (never by the clock of
the threads sending them, which a loaded machine stretches at will).
"""

import math
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import httpx2
import pytest

from tests.conftest import TEST_API_KEY, api_path, token_header, widen_listen_backlog
from vectorstores.conf import app_settings
from vectorstores.testing import create_credential
from vectorstores.testing.fake_openai.server import peak_overlap

pytestmark = pytest.mark.subprocess  # a live server

UPLOADERS = 20
REMOVERS = 10
REQUEST_TIMEOUT = 60.0  # a safety net for a stuck request, not a promise: far beyond what any takes


@pytest.fixture
def live(live_server, transactional_db, settings):
    """The live server for one test: the database is committed for real, and its host is allowed."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    return live_server


@pytest.fixture
def fake(fake_openai):
    """The fake OpenAI, able to take this module's bursts of new connections."""
    widen_listen_backlog(fake_openai._server.socket)
    return fake_openai


@pytest.fixture
def live_users(transactional_db, django_user_model):
    """make(count, prefix): `count` users, each with a DRF token; returns [(user, its Authorization header)]."""

    def make(count, prefix):
        users = []
        for n in range(count):
            user = django_user_model.objects.create_user(f"{prefix}{n:02d}", password="unused-password")
            users.append((user, token_header(user)))
        return users

    return make


@pytest.fixture
def live_credential(transactional_db, fake):
    """A credential pointing at the fake OpenAI, shared by whoever the test adds to it (in shared mode: the
    tests act on stores made in the fake)."""
    return create_credential(fake, name="Shared credential", api_key=TEST_API_KEY, access_mode="shared")


def store_url(live, credential, store_id):
    return f"{live.url}{api_path(credential.pk, f'/{store_id}')}"


def run_all_at_once(function, jobs):
    """Run function(job) for every job in its own thread, all released together.

    Returns [(job, result)] in the order of `jobs`.
    """
    barrier = threading.Barrier(len(jobs))

    def released(job):
        barrier.wait(timeout=REQUEST_TIMEOUT)
        return job, function(job)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(released, jobs))


def users_at_once(uploads):
    """The most users whose files the fake was receiving at the same moment, by its own record.

    A user's uploads (one request's, sent side by side) span from the first one's arrival to the last
    one's answer; "shared.txt", which every other user sends, is left out: its name says nobody's.
    """
    spans = {}
    for request in uploads:
        for name in request.decoded_filenames:
            if name != "shared.txt":
                owner = name.split("-")[0]
                first, last = spans.get(owner, (math.inf, -math.inf))
                spans[owner] = (min(first, request.received_at), max(last, request.answered_at))
    return peak_overlap(SimpleNamespace(received_at=first, answered_at=last) for first, last in spans.values())


def user_files(n):
    """The files user n uploads: 1 to 3 files with names and contents that only this user sends.

    Every other user also sends a file named "shared.txt" whose size is the same for all of them,
    so only its content tells whose it is.
    """
    files = [
        (f"user{n:02d}-doc{k}.txt", f"user {n:02d} document {k}\n".encode() * (n + k + 1)) for k in range(1 + n % 3)
    ]
    if n % 2 == 0:
        files.append(("shared.txt", f"shared file of user {n:02d}".encode()))
    return files


@pytest.mark.slow
def test_concurrent_uploads_from_many_users_to_one_store(live, fake, live_credential, live_users, upload_dir):
    fake.upload_delay = 0.5  # long enough for the other users' requests to get there meanwhile
    fake.batch_processing_time = 0.2
    store = fake.create_vector_store(name="shared")
    other_store = fake.create_vector_store(name="untouched")
    users = live_users(UPLOADERS, "uploader")
    live_credential.users.add(*(user for user, _ in users))
    url = store_url(live, live_credential, store["id"])

    def upload(n):
        files = [("files", (name, content, "text/plain")) for name, content in user_files(n)]
        with httpx2.Client(timeout=REQUEST_TIMEOUT) as client:
            response = client.post(url, files=files, headers=users[n][1])
        return response.status_code, response.json()

    outcomes = run_all_at_once(upload, list(range(UPLOADERS)))

    # Every response is a success that lists exactly its own files, in the order they were sent.
    for n, (status_code, body) in outcomes:
        assert status_code == 200, (n, body)
        expected = user_files(n)
        assert [file["filename"] for file in body] == [name for name, _ in expected], n
        assert [file["bytes"] for file in body] == [len(content) for _, content in expected], n
        for file, (_, content) in zip(body, expected, strict=True):
            assert file["object"] == "file" and file["purpose"] == "assistants"
            assert fake.file_contents[file["id"]] == content, (n, file)  # the bytes this user sent

    returned = {file["id"]: n for n, (_, body) in outcomes for file in body}
    returned_count = sum(len(body) for _, (_, body) in outcomes)
    assert len(returned) == returned_count == sum(len(user_files(n)) for n in range(UPLOADERS))  # ids unique

    # The requests really overlapped where it counts: OpenAI was receiving the files of many users at
    # the same moment (by the fake's record), not one request's after another's.
    uploads = fake.requests_to("POST", "/files")
    assert users_at_once(uploads) >= UPLOADERS // 4

    # OpenAI holds exactly the files of the responses, each uploaded once, with its own content.
    assert len(uploads) == returned_count
    assert set(fake.files) == set(returned)
    # All of them are in the store, processed; the other store got nothing.
    with fake.lock:
        in_store = {
            file_id: vs_file["status"]
            for (vs_id, file_id), vs_file in fake.vector_store_files.items()
            if vs_id == store["id"]
        }
        in_other_store = [key for key in fake.vector_store_files if key[0] == other_store["id"]]
        batches = dict(fake.file_batches)
        batch_files = {batch_id: set(ids) for batch_id, ids in fake.batch_file_ids.items()}
        store_counts = dict(fake.vector_stores[store["id"]]["file_counts"])
    assert in_store == dict.fromkeys(returned, "completed")
    assert in_other_store == []
    assert store_counts["completed"] == store_counts["total"] == returned_count

    # One file batch per request, holding exactly that request's files, each completed.
    assert len(batches) == UPLOADERS
    assert len(fake.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")) == UPLOADERS
    per_request = sorted(sorted(file["id"] for file in body) for _, (_, body) in outcomes)
    assert sorted(sorted(ids) for ids in batch_files.values()) == per_request
    assert {batch["status"] for batch in batches.values()} == {"completed"}
    assert all(batch["vector_store_id"] == store["id"] for batch in batches.values())

    # Nothing was cleaned up (nothing failed), and no temporary upload file stayed on disk.
    assert fake.requests_to("DELETE", "/files") == []
    live.in_flight.wait_until_idle(timeout=10)  # each request removes its temporary files as its answer closes
    assert list(upload_dir.iterdir()) == []


def test_concurrent_removals_of_overlapping_files(live, fake, live_credential, live_users):
    store = fake.create_vector_store(name="shared")
    other_store = fake.create_vector_store(name="untouched")
    targeted = [fake.create_file(f"target-{i:02d}.txt", f"target {i}".encode())["id"] for i in range(30)]
    untargeted = [fake.create_file(f"keep-{i}.txt", f"keep {i}".encode())["id"] for i in range(5)]
    elsewhere = [fake.create_file(f"other-{i}.txt", f"other {i}".encode())["id"] for i in range(3)]
    for file_id in targeted + untargeted:
        fake.attach_file(store["id"], file_id)
    for file_id in elsewhere:
        fake.attach_file(other_store["id"], file_id)
    # Detaching takes a moment, so the requests overlap and race for the same ids.
    fake.delay("DELETE", r"/vector_stores/[^/]+/files/[^/]+", 0.2)

    users = live_users(REMOVERS, "remover")
    live_credential.users.add(*(user for user, _ in users))
    url = store_url(live, live_credential, store["id"])
    # Request i removes 6 ids starting at 3*i (wrapping around), so every id is in exactly two
    # requests, and every request shares ids with both neighbours. Odd requests delete the Files too.
    jobs = [(i, [targeted[(3 * i + k) % len(targeted)] for k in range(6)], i % 2 == 1) for i in range(REMOVERS)]

    def remove(job):
        i, file_ids, delete_files = job
        with httpx2.Client(timeout=REQUEST_TIMEOUT) as client:
            response = client.patch(url, json={"file_ids": file_ids, "delete_files": delete_files}, headers=users[i][1])
        return response.status_code, response.json()

    outcomes = run_all_at_once(remove, jobs)
    # The requests overlapped at OpenAI: one request alone never has more than DELETE_CONCURRENCY
    # detachments in flight there, so more at once (by the fake's record) means several requests at once.
    assert fake.peak_overlap("DELETE", f"/vector_stores/{store['id']}/files/") > app_settings.DELETE_CONCURRENCY

    detached_by = {}  # file id -> the job whose request detached it
    partial_failures = 0
    for job, (status_code, body) in outcomes:
        i, file_ids, delete_files = job
        if status_code == 200:
            reports = body
            assert all(report["deleted"] is True and "error" not in report for report in reports), (i, body)
        else:
            # The documented partial failure: OpenAI's 404 for the ids another request removed first.
            partial_failures += 1
            assert status_code == 404, (i, body)
            assert body["code"] == "openai_not_found", (i, body)
            assert body["detail"].startswith(
                f"{sum(not r['deleted'] for r in body['files'])} of {len(file_ids)} files"
            ), body
            reports = body["files"]
            assert any(report["deleted"] is False for report in reports), (i, body)
        # Each id of this request exactly once, in its order, and nothing of another request.
        assert [report["id"] for report in reports] == file_ids, (i, body)
        for report in reports:
            assert report["object"] == "vector_store.file.deleted"
            if report["deleted"]:
                assert "error" not in report, (i, report)
                assert report["id"] not in detached_by, f"{report['id']} detached twice"
                detached_by[report["id"]] = job
            else:
                assert report["error"]["code"] == "openai_not_found", (i, report)
                assert report["id"] in report["error"]["detail"], (i, report)
            if delete_files:
                # Only a file this request detached from the store is deleted.
                assert report["file_deleted"] is report["deleted"], (i, report)
            else:
                assert "file_deleted" not in report, (i, report)

    # Each id was in two requests and only one can have detached it, so some requests failed partly.
    assert partial_failures > 0
    # Every targeted id was removed exactly once, and nothing else.
    assert set(detached_by) == set(targeted)
    with fake.lock:
        in_store = {file_id for vs_id, file_id in fake.vector_store_files if vs_id == store["id"]}
        in_other_store = {file_id for vs_id, file_id in fake.vector_store_files if vs_id == other_store["id"]}
        remaining_files = set(fake.files)
    assert in_store == set(untargeted)
    assert in_other_store == set(elsewhere)
    deleted_files = {file_id for file_id, (_, _, delete_files) in detached_by.items() if delete_files}
    assert remaining_files == set(targeted + untargeted + elsewhere) - deleted_files
    # Each request tried each of its ids once: two detach attempts per targeted id in all, and one
    # File deletion per id that a delete_files request detached.
    detach_attempts = Counter(
        request.path.rsplit("/", 1)[1] for request in fake.requests_to("DELETE", f"/vector_stores/{store['id']}/files/")
    )
    assert detach_attempts == dict.fromkeys(targeted, 2)
    file_deletions = [request.path.rsplit("/", 1)[1] for request in fake.requests_to("DELETE", "/files/")]
    assert sorted(file_deletions) == sorted(deleted_files)
