"""OpenAI's Python SDK, unchanged, against the OpenAI-compatible routes: every call it makes for vector
stores, their files, file batches, search and Files, its helpers (auto-paging, upload_and_poll) and its
error classes. What reached the fake OpenAI is checked too."""

import openai
import pytest

from tests.conftest import TEST_API_KEY
from tests.openai_sdk.conftest import text
from vectorstores.models import AuditEntry, FileRecord, StoreRecord
from vectorstores.testing import create_credential

pytestmark = pytest.mark.subprocess


def test_vector_store_round_trip(sdk, fake_openai):
    created = sdk.vector_stores.create(name="Handbook", metadata={"team": "support"})
    assert created.id.startswith("vs_") and created.name == "Handbook"
    assert created.metadata == {"team": "support"}

    assert sdk.vector_stores.retrieve(created.id).name == "Handbook"
    updated = sdk.vector_stores.update(created.id, name="Staff handbook")
    assert updated.name == "Staff handbook"
    assert fake_openai.get_store(created.id)["name"] == "Staff handbook"
    [modify] = fake_openai.requests_to("POST", f"/vector_stores/{created.id}")
    assert modify.json == {"name": "Staff handbook"}

    deleted = sdk.vector_stores.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "vector_store.deleted")
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.retrieve(created.id)


def test_auto_paging_follows_every_page(sdk, fake_openai):
    ids = [fake_openai.create_vector_store(name=f"store {n}")["id"] for n in range(5)]

    first = sdk.vector_stores.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    paged = [store.id for store in sdk.vector_stores.list(limit=2)]  # iterating fetches the next pages

    assert sorted(paged) == sorted(ids) and len(paged) == 5
    pages = fake_openai.requests_to("GET", "/vector_stores")
    assert [request.query.get("after") for request in pages] == [None, None, paged[1], paged[3]]


def test_upload_and_poll_one_file_then_its_whole_life(sdk, fake_openai, upload_dir):
    store = sdk.vector_stores.create(name="Docs")

    vs_file = sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=text("guide.txt"))

    assert vs_file.status == "completed" and vs_file.vector_store_id == store.id
    assert fake_openai.get_file(vs_file.id)["filename"] == "guide.txt"
    assert fake_openai.get_file(vs_file.id)["purpose"] == "assistants"
    assert sdk.vector_stores.files.retrieve(vs_file.id, vector_store_id=store.id).status == "completed"

    changed = sdk.vector_stores.files.update(vs_file.id, vector_store_id=store.id, attributes={"lang": "en"})
    assert changed.attributes == {"lang": "en"}

    content = list(sdk.vector_stores.files.content(vs_file.id, vector_store_id=store.id))
    assert content and "file search" in content[0].text

    listed = sdk.vector_stores.files.list(vector_store_id=store.id)
    assert [item.id for item in listed] == [vs_file.id]

    results = sdk.vector_stores.search(store.id, query="file search")
    assert [result.file_id for result in results] == [vs_file.id]

    detached = sdk.vector_stores.files.delete(vs_file.id, vector_store_id=store.id)
    assert (detached.id, detached.deleted, detached.object) == (vs_file.id, True, "vector_store.file.deleted")
    assert vs_file.id in fake_openai.files  # detaching keeps the File
    assert list(upload_dir.iterdir()) == []


def test_file_batch_upload_and_poll_with_several_files(sdk, fake_openai):
    store = sdk.vector_stores.create(name="Batch")
    files = [text(f"part-{n}.txt", f"Part {n} of the manual.".encode()) for n in range(3)]

    batch = sdk.vector_stores.file_batches.upload_and_poll(store.id, files=files)

    assert batch.status == "completed" and batch.file_counts.completed == 3
    in_batch = sdk.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    names = {fake_openai.get_file(item.id)["filename"] for item in in_batch}
    assert names == {"part-0.txt", "part-1.txt", "part-2.txt"}
    assert sdk.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id).id == batch.id
    cancelled = sdk.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.id == batch.id
    assert len(fake_openai.requests_to("POST", f"/vector_stores/{store.id}/file_batches/{batch.id}/cancel")) == 1


def test_files_are_the_callers_own(sdk, sdk_for, other_user, credential, fake_openai):
    credential.users.add(other_user)
    mine = [sdk.files.create(file=text(f"mine-{n}.txt"), purpose="assistants") for n in range(3)]
    theirs = sdk_for(other_user).files.create(file=text("theirs.txt"), purpose="assistants")
    assert FileRecord.objects.get(file_id=theirs.id).owner == other_user

    listed = [file.id for file in sdk.files.list(limit=2)]  # two pages

    assert sorted(listed) == sorted(file.id for file in mine)
    assert sdk.files.retrieve(mine[0].id).filename == "mine-0.txt"
    deleted = sdk.files.delete(mine[0].id)
    assert deleted.deleted and mine[0].id not in fake_openai.files
    assert not FileRecord.objects.filter(file_id=mine[0].id).exists()


def test_error_classes(sdk, sdk_for, user, store, throttle_rates):
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.vector_stores.retrieve("vs_missing")
    assert missing.value.status_code == 404

    with pytest.raises(openai.BadRequestError) as invalid:
        sdk.vector_stores.create(metadata={f"k{n}": "v" for n in range(17)})
    assert invalid.value.body["param"] == "metadata" and invalid.value.body["type"] == "invalid_request_error"

    with pytest.raises(openai.AuthenticationError):
        sdk_for(None).vector_stores.list()

    throttle_rates("1/minute")
    sdk.vector_stores.retrieve(store["id"])
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.vector_stores.retrieve(store["id"])
    assert int(limited.value.response.headers["retry-after"]) > 0
    assert limited.value.body["code"] == "throttled"


def test_error_envelope_is_openais(sdk):
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.vector_stores.retrieve("vs_missing")
    assert set(missing.value.response.json()) == {"error"}
    assert set(missing.value.body) == {"message", "type", "param", "code"}


def test_a_store_of_another_user_is_not_found_like_a_missing_one(sdk_for, alice, bob, owned_credential):
    alices = sdk_for(alice, owned_credential).vector_stores.create(name="Alice's")
    bobs_sdk = sdk_for(bob, owned_credential)

    with pytest.raises(openai.NotFoundError) as not_hers:
        bobs_sdk.vector_stores.retrieve(alices.id)
    with pytest.raises(openai.NotFoundError) as missing:
        bobs_sdk.vector_stores.retrieve("vs_nothing")

    assert not_hers.value.body == missing.value.body
    assert not_hers.value.body["code"] == "vector_store_not_found"
    assert [store.id for store in bobs_sdk.vector_stores.list()] == []
    assert StoreRecord.objects.get(store_id=alices.id).owner == alice


def test_a_user_who_may_not_use_the_credential_gets_not_found(sdk_for, other_user, store, fake_openai):
    with pytest.raises(openai.NotFoundError) as refused:
        sdk_for(other_user).vector_stores.retrieve(store["id"])
    assert refused.value.body["code"] == "credential_not_found"
    assert fake_openai.requests_to("GET", "/vector_stores") == []


def test_the_callers_organization_and_project_headers_are_ignored(sdk_for, user, fake_openai, store):
    ours = create_credential(
        fake_openai,
        api_key=TEST_API_KEY,
        users=[user],
        access_mode="shared",
        organization="org-ours",
        project="proj_ours",
    )
    sdk = sdk_for(user, ours, organization="org-theirs", project="proj_theirs")

    sdk.vector_stores.retrieve(store["id"])

    [sent] = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}")
    assert (sent.headers["openai-organization"], sent.headers["openai-project"]) == ("org-ours", "proj_ours")


def test_calls_are_audited_under_the_credential_named_in_the_url(sdk, user, credential, store, live_server):
    sdk.vector_stores.retrieve(store["id"])
    live_server.in_flight.wait_until_idle(timeout=10)  # the entry is written once the answer is sent
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.credential, entry.credential_ref) == (user, credential, str(credential.pk))
    assert (entry.operation, entry.vector_store_id, entry.status_code) == ("retrieve", store["id"], 200)
