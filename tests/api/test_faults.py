"""Every endpoint under every fault OpenAI can throw: the documented status and error body, in time.

Retries are on as in production (MAX_RETRIES=2), with a short TIMEOUT, so these also prove
that retries never stretch a call past TIMEOUT: by the fake OpenAI's own clock, no attempt reaches it
later than TIMEOUT after the first, and a request it holds is given up on, not waited for.
"""

import re
import time
from dataclasses import dataclass

import pytest
from django.db import DatabaseError

from tests.conftest import text_file
from vectorstores.gateway.store_uploads import InFlightFiles
from vectorstores.models import FileRecord

pytestmark = pytest.mark.django_db

TIMEOUT = 0.5
# What "in time" allows on top of TIMEOUT for our own work (Django, the test client, an upload's cleanup)
# on a loaded 2-core machine. Time is the promise here, so it stays a wall-clock limit, far below SLOW.
MARGIN = 3.0
SLOW = 30.0  # how long the "slow" fault holds a request: a call that waited for it would take this long


@dataclass
class Endpoint:
    name: str
    method: str  # of our API
    path: str  # of our API, {store} for the store id
    upstream_method: str
    upstream_path: str  # regex relative to /v1
    body: dict | None = None


ENDPOINTS = [
    Endpoint("list", "get", "", "GET", "/vector_stores"),
    Endpoint("get", "get", "/{store}", "GET", "/vector_stores/{store}"),
    Endpoint("create", "post", "", "POST", "/vector_stores", {"name": "new"}),
    Endpoint("update", "put", "/{store}", "POST", "/vector_stores/{store}", {"name": "renamed"}),
    Endpoint("delete", "delete", "/{store}", "DELETE", "/vector_stores/{store}"),
    Endpoint("upload", "upload", "/{store}", "POST", "/files"),
    Endpoint("remove", "patch", "/{store}", "DELETE", "/vector_stores/{store}/files/.*", {"file_ids": ["{file}"]}),
    Endpoint("list files", "get", "/{store}/files", "GET", "/vector_stores/{store}/files"),
    Endpoint("search", "post", "/{store}/search", "POST", "/vector_stores/{store}/search", {"query": "q"}),
]


@dataclass
class Fault:
    name: str
    status: int
    code: str
    inject: callable  # (fake, method, path) -> None
    retry_after: str | None = None


FAULTS = [
    Fault("500", 502, "openai_server_error", lambda fake, m, p: fake.fail(m, p, 500, times=99)),
    Fault("503", 502, "openai_server_error", lambda fake, m, p: fake.fail(m, p, 503, times=99)),
    Fault(
        "429 with Retry-After",
        429,
        "openai_rate_limited",
        lambda fake, m, p: fake.fail(m, p, 429, headers={"Retry-After": "30"}, times=99),
        retry_after="30",
    ),
    Fault("429 without Retry-After", 429, "openai_rate_limited", lambda fake, m, p: fake.fail(m, p, 429, times=99)),
    Fault("401", 401, "openai_invalid_api_key", lambda fake, m, p: fake.fail(m, p, 401, times=99)),
    Fault("slow", 504, "openai_timeout", lambda fake, m, p: fake.delay(m, p, SLOW)),
    Fault("dropped connection", 502, "openai_unreachable", lambda fake, m, p: fake.drop(m, p, times=99)),
    Fault(
        "malformed JSON",
        502,
        "openai_bad_response",
        lambda fake, m, p: fake.fail(m, p, 200, body=b'{"id": "vs_', times=99),
    ),
    Fault(
        "unexpected shape",
        502,
        "openai_bad_response",
        lambda fake, m, p: fake.fail(m, p, 200, body={"object": "surprise", "data": "?"}, times=99),
    ),
]


@pytest.fixture
def production_retries(settings):
    settings.OPENAI_VECTOR_STORES = {
        **settings.OPENAI_VECTOR_STORES,
        "MAX_RETRIES": 2,
        "CREATE_MAX_RETRIES": 2,
        "TIMEOUT": TIMEOUT,
    }


@pytest.fixture
def room_to_retry(settings):
    """Production retries with a TIMEOUT long enough for two backoffs (0.5 s, then 1 s)."""
    settings.OPENAI_VECTOR_STORES = {
        **settings.OPENAI_VECTOR_STORES,
        "MAX_RETRIES": 2,
        "CREATE_MAX_RETRIES": 2,
        "TIMEOUT": 10,
    }


@dataclass
class Seeded:
    fake: object
    store: str
    file: str

    def upstream(self, endpoint):
        return endpoint.upstream_path.format(store=self.store)

    def unattached_files(self):
        return set(self.fake.files) - {key[1] for key in self.fake.vector_store_files}

    def attempts(self, endpoint):
        """The requests of `endpoint`'s upstream call that reached the fake: the first try and any retries."""
        path = re.compile(self.upstream(endpoint))
        return [
            request for request in self.fake.requests_to(endpoint.upstream_method, "/") if path.fullmatch(request.path)
        ]


@pytest.fixture
def seeded(fake_openai):
    """A store holding one file."""
    store = fake_openai.create_vector_store(name="faulty")["id"]
    file = fake_openai.create_file("doc.txt", b"text")["id"]
    fake_openai.attach_file(store, file)
    return Seeded(fake_openai, store, file)


def call(api, url, seeded, endpoint):
    path = url(endpoint.path.format(store=seeded.store))
    if endpoint.method == "upload":
        return api.post(path, {"files": [text_file("doc.txt", b"some text")]}, format="multipart")
    body = endpoint.body and {
        key: [seeded.file] if value == ["{file}"] else value for key, value in endpoint.body.items()
    }
    return getattr(api, endpoint.method)(path, body, format="json")


@pytest.mark.usefixtures("production_retries", "upload_dir")
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_fault_gives_the_documented_answer_in_time(api, url, seeded, endpoint, fault, upload_dir):
    fault.inject(seeded.fake, endpoint.upstream_method, seeded.upstream(endpoint))
    started = time.monotonic()
    response = call(api, url, seeded, endpoint)
    elapsed = time.monotonic() - started

    assert response.status_code == fault.status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == fault.code
    assert isinstance(body["detail"], str) and "Traceback" not in body["detail"]
    assert response.get("Retry-After") == fault.retry_after
    assert elapsed < TIMEOUT + MARGIN
    attempts = seeded.attempts(endpoint)
    assert attempts, "the call never reached OpenAI"
    assert attempts[-1].received_at - attempts[0].received_at < TIMEOUT  # no retry past TIMEOUT
    if fault.name == "slow":
        assert attempts[-1].answered_at is None  # answered while OpenAI still held it: given up on, not waited for
    if endpoint.name == "upload":
        assert list(upload_dir.iterdir()) == []
        assert seeded.unattached_files() == set(), "an upload left an orphan"


# --- retries ---------------------------------------------------------------------------

IDEMPOTENT = [e for e in ENDPOINTS if e.name in {"list", "get", "delete", "remove", "list files", "search", "update"}]


@pytest.mark.usefixtures("room_to_retry")
@pytest.mark.parametrize("endpoint", IDEMPOTENT, ids=[e.name for e in IDEMPOTENT])
def test_idempotent_calls_recover_from_passing_faults(api, url, seeded, endpoint):
    seeded.fake.fail(endpoint.upstream_method, seeded.upstream(endpoint), 503, times=1)
    seeded.fake.drop(endpoint.upstream_method, seeded.upstream(endpoint), times=1)
    response = call(api, url, seeded, endpoint)
    assert response.status_code == 200, response.content


@pytest.mark.usefixtures("room_to_retry", "upload_dir")
def test_batch_polling_is_retried(api, url, seeded):
    seeded.fake.batch_processing_time = 0.2
    seeded.fake.fail("GET", f"/vector_stores/{seeded.store}/file_batches/.*", 503, times=2)
    response = call(api, url, seeded, ENDPOINTS[5])
    assert response.status_code == 200, response.content
    assert len(seeded.fake.requests_to("POST", "/files")) == 1


@pytest.mark.usefixtures("production_retries")
def test_a_create_whose_answer_is_lost_is_not_repeated(api, url, fake_openai):
    fake_openai.drop("POST", "/vector_stores", after_processing=True)
    response = api.post(url(), {"name": "only once"}, format="json")
    assert response.status_code == 502
    assert len(fake_openai.requests_to("POST", "/vector_stores")) == 1
    assert len(fake_openai.vector_stores) == 1  # created once, never duplicated


@pytest.mark.usefixtures("production_retries")
def test_a_create_refused_with_429_is_retried(api, url, fake_openai):
    fake_openai.fail("POST", "/vector_stores", 429, headers={"Retry-After-Ms": "20"})
    response = api.post(url(), {"name": "after a pause"}, format="json")
    assert response.status_code == 200
    assert len(fake_openai.requests_to("POST", "/vector_stores")) == 2
    assert len(fake_openai.vector_stores) == 1


@pytest.mark.usefixtures("production_retries")
def test_a_create_failing_with_5xx_is_not_retried(api, url, fake_openai):
    fake_openai.fail("POST", "/vector_stores", 500)
    assert api.post(url(), {"name": "x"}, format="json").status_code == 502
    assert len(fake_openai.requests_to("POST", "/vector_stores")) == 1


def test_without_retries_a_passing_fault_reaches_the_caller(api, url, seeded):
    seeded.fake.fail("GET", f"/vector_stores/{seeded.store}", 503)
    assert api.get(url(f"/{seeded.store}")).status_code == 502


# --- uploads whatever fails ------------------------------------------------------------------

UPLOAD_FAULTS = {
    "upload answer lost": lambda fake: fake.drop("POST", "/files", after_processing=True),
    "second upload fails": lambda fake: fake.fail("POST", "/files", 500, times=1),
    "batch answer lost": lambda fake: fake.drop("POST", "/vector_stores/.*/file_batches", after_processing=True),
    "batch refused": lambda fake: fake.fail("POST", "/vector_stores/.*/file_batches", 400),
    "polling fails": lambda fake: fake.fail("GET", "/vector_stores/.*/file_batches/.*", 500, times=99),
    "batch fails": lambda fake: setattr(fake, "batch_outcome", "failed"),
}


@pytest.mark.usefixtures("production_retries")
@pytest.mark.parametrize("inject", UPLOAD_FAULTS.values(), ids=UPLOAD_FAULTS.keys())
def test_a_failed_upload_leaves_no_file_behind(api, url, seeded, upload_dir, inject):
    seeded.fake.batch_processing_time = 0.1
    inject(seeded.fake)
    files = [text_file(f"doc{n}.txt", b"text %d" % n) for n in range(3)]
    response = api.post(url(f"/{seeded.store}"), {"files": files}, format="multipart")
    assert response.status_code >= 400
    assert response.json()["files"]
    assert list(upload_dir.iterdir()) == []
    assert seeded.unattached_files() == set(), "files this request created remain unattached"
    assert {f["filename"] for f in seeded.fake.files.values()} == {"doc.txt"}  # only the seeded file


@pytest.mark.usefixtures("production_retries")
def test_a_lost_upload_answer_never_takes_a_file_another_request_owns(api, url, seeded, monkeypatch):
    """The lost answer's File is looked for by name and size: an identical File that another request
    of this process uploaded (and still owns) is not it, and is not deleted by this request's cleanup."""
    owned_elsewhere = InFlightFiles()
    monkeypatch.setattr("vectorstores.gateway.store_uploads.in_flight", owned_elsewhere)
    others = seeded.fake.create_file("twin.txt", b"same bytes")["id"]
    owned_elsewhere.claim_created(others)
    seeded.fake.drop("POST", "/files")  # this request's upload never reaches OpenAI; its answer is lost
    upload = text_file("twin.txt", b"same bytes")

    response = api.post(url(f"/{seeded.store}"), {"files": [upload]}, format="multipart")

    assert response.status_code == 502
    assert response.json()["files"][0]["id"] is None
    assert others in seeded.fake.files


@pytest.mark.usefixtures("production_retries", "upload_dir")
def test_a_lost_upload_answer_never_takes_the_file_of_an_upload_that_has_ended(api, url, seeded):
    """A claim outlasts its request: an upload that began before another one's File was made may still be
    looking for its own after that other upload has ended. (Its records deleted: the claim alone decides.)"""
    done = api.post(url(f"/{seeded.store}"), {"files": [text_file("twin.txt", b"same bytes")]}, format="multipart")
    assert done.status_code == 200
    FileRecord.objects.all().delete()
    seeded.fake.fail("POST", "/files", 500, times=99)

    response = api.post(url(f"/{seeded.store}"), {"files": [text_file("twin.txt", b"same bytes")]}, format="multipart")

    assert response.status_code == 502
    assert done.json()[0]["id"] in seeded.fake.files


@pytest.fixture
def no_throttles(throttle_rates):
    """A host site without throttles, so that only the uploads' claims meet the cache."""
    throttle_rates(None)


@pytest.mark.usefixtures("production_retries", "no_throttles", "cache_down")
def test_an_upload_does_not_need_the_cache(api, url, seeded, upload_dir, caplog):
    """The claims on an upload's Files are kept in the cache: with Redis down the upload still succeeds."""
    files = [text_file(f"doc{n}.txt", b"text %d" % n) for n in range(2)]
    response = api.post(url(f"/{seeded.store}"), {"files": files}, format="multipart")
    assert response.status_code == 200, response.content
    assert {f["filename"] for f in seeded.fake.files.values()} == {"doc.txt", "doc0.txt", "doc1.txt"}
    assert seeded.unattached_files() == set()
    assert list(upload_dir.iterdir()) == []
    assert "Could not claim OpenAI file" in caplog.text


@pytest.mark.usefixtures("production_retries", "no_throttles", "cache_down")
def test_with_the_cache_down_a_lost_upload_answer_takes_no_file_on_a_guess(api, url, seeded, caplog):
    """Without the claims, a File found by name and size may be another request's: it is not taken (nor
    deleted by this request's cleanup), and the log says so."""
    seeded.fake.drop("POST", "/files", after_processing=True)
    response = api.post(url(f"/{seeded.store}"), {"files": [text_file("lost.txt", b"lost")]}, format="multipart")
    assert response.status_code == 502
    assert response.json()["files"][0]["id"] is None
    assert {f["filename"] for f in seeded.fake.files.values()} == {"doc.txt", "lost.txt"}
    assert "so it is not taken" in caplog.text


@pytest.mark.usefixtures("upload_dir")
def test_an_upload_whose_files_cannot_be_recorded_leaves_no_file_at_openai(api, url, seeded, monkeypatch):
    """Each File is recorded as soon as it is made: when that fails (a fault of this server's), the Files made
    and those still uploading are deleted once every upload has ended."""

    def failing_insert(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(FileRecord.objects, "create", failing_insert)
    files = [text_file(f"doc{n}.txt", b"text %d" % n) for n in range(3)]
    with pytest.raises(DatabaseError):
        api.post(url(f"/{seeded.store}"), {"files": files}, format="multipart")
    assert len(seeded.fake.requests_to("POST", "/files")) >= 1
    assert {f["filename"] for f in seeded.fake.files.values()} == {"doc.txt"}  # only the seeded file
