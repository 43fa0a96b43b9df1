"""Stores belong to people: the API under a credential in `owned` mode.

Two users share one credential. Each reaches only the stores they own or that are shared with one of
their groups; the other's store answers exactly like a store that does not exist, on every route, before
anything reaches OpenAI. Lists hold only the caller's stores, in full pages. Holders of the
`manage_all_stores` permission and superusers reach all; a `shared` credential keeps the old rules.
"""

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache

from tests.conftest import API_ROOT, assert_invalid, client_for, text_file
from vectorstores import gateway, ownership
from vectorstores.models import AuditEntry, FileRecord, StoreFileRecord, StoreRecord
from vectorstores.testing.fake_openai import state

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(owned_credential):
    """conftest's credential in owned mode (alice and bob may use it), under the short name every call uses."""
    return owned_credential


def call(user, credential, method, path="", body=None, fmt="json", **query):
    """`user`'s API call on `credential`: the response."""
    query = "&".join(f"{name}={value}" for name, value in {"credential": credential.pk, **query}.items())
    client = client_for(user)
    return getattr(client, method)(f"{API_ROOT}{path}?{query}", body, format=fmt)


def create(user, credential, name, **query):
    response = call(user, credential, "post", "", {"name": name}, **query)
    assert response.status_code == 200, response.content
    return response.json()


def ids(response):
    assert response.status_code == 200, response.content
    return [store["id"] for store in response.json()]


def upstream_calls(fake_openai):
    return len(fake_openai.requests)


# Every route that names a store, as (method, path after the store id, body, format).
STORE_ROUTES = [
    ("get", "", None, "json"),
    ("post", "", {"name": "taken"}, "json"),
    ("put", "", {"name": "taken"}, "json"),
    ("delete", "", None, "json"),
    ("patch", "", {"file_ids": ["file-abc"], "delete_files": True}, "json"),
    ("post", "", {"files": [text_file("a.txt")]}, "multipart"),
    ("get", "/files", None, "json"),
    ("post", "/files", {"file_id": "file-abc"}, "json"),
    ("get", "/files/file-abc", None, "json"),
    ("post", "/files/file-abc", {"attributes": {"k": "v"}}, "json"),
    ("delete", "/files/file-abc", None, "json"),
    ("get", "/files/file-abc/content", None, "json"),
    ("post", "/file_batches", {"file_ids": ["file-abc"]}, "json"),
    ("get", "/file_batches/vsfb_abc", None, "json"),
    ("post", "/file_batches/vsfb_abc/cancel", None, "json"),
    ("get", "/file_batches/vsfb_abc/files", None, "json"),
    ("post", "/search", {"query": "secret"}, "json"),
]
ROUTE_IDS = [f"{method} {path or '/'} {fmt}" for method, path, _, fmt in STORE_ROUTES]


# --- who reaches a store ----------------------------------------------------------------------------


def test_a_new_store_is_recorded_as_its_creators(owned, alice):
    store = create(alice, owned, "alice's notes")
    record = StoreRecord.objects.get(store_id=store["id"])
    assert (record.credential, record.owner, record.created_by, record.group) == (owned, alice, alice, None)
    assert record.snapshot == store and record.store_created_at == store["created_at"]


def test_new_credentials_are_owned_and_the_owner_reaches_their_store(owned, alice):
    assert owned.access_mode == "owned"
    store = create(alice, owned, "alice's notes")
    assert call(alice, owned, "get", f"/{store['id']}").json()["name"] == "alice's notes"


@pytest.mark.parametrize("method, path, body, fmt", STORE_ROUTES, ids=ROUTE_IDS)
def test_another_users_store_answers_like_one_that_does_not_exist(
    owned, alice, bob, fake_openai, method, path, body, fmt
):
    store = create(alice, owned, "alice's notes")
    before = upstream_calls(fake_openai)

    theirs = call(bob, owned, method, f"/{store['id']}{path}", body, fmt)
    missing = call(bob, owned, method, f"/vs_doesnotexist{path}", body, fmt)

    assert theirs.status_code == missing.status_code == 404
    assert (
        theirs.json()
        == missing.json()
        == {
            "detail": "Vector store not found.",
            "message": "Vector store not found.",
            "code": "vector_store_not_found",
        }
    )
    assert upstream_calls(fake_openai) == before  # decided here: nothing reached OpenAI
    assert fake_openai.get_store(store["id"])["name"] == "alice's notes"  # and nothing changed there
    assert StoreRecord.objects.filter(store_id=store["id"], owner=alice).exists()


def test_refusing_a_store_costs_the_same_queries_as_a_store_that_does_not_exist(
    owned, alice, bob, django_assert_num_queries
):
    store = create(alice, owned, "alice's notes")
    as_alice, as_bob = client_for(alice), client_for(bob)  # their tokens, outside the counts
    path = f"{API_ROOT}/{{}}?credential={owned.pk}"
    as_bob.get(path.format("vs_warmup"))  # the client and last_used_at, once
    with django_assert_num_queries(3):  # token, credential with the store check, audit entry
        assert as_bob.get(path.format(store["id"])).status_code == 404
    with django_assert_num_queries(3):
        assert as_bob.get(path.format("vs_doesnotexist")).status_code == 404
    with django_assert_num_queries(3):  # and the owner's own call: still one query decides access
        assert as_alice.get(path.format(store["id"])).status_code == 200


def test_a_store_shared_with_a_group_is_reached_by_its_members_only(owned, alice, bob, group, django_user_model):
    alice.groups.add(group)
    bob.groups.add(group)
    carol = django_user_model.objects.create_user("carol")
    owned.users.add(carol)
    store = create(alice, owned, "team notes", group=group.name)

    assert StoreRecord.objects.get(store_id=store["id"]).group == group
    assert call(bob, owned, "put", f"/{store['id']}", {"name": "renamed by bob"}).status_code == 200
    assert ids(call(bob, owned, "get")) == [store["id"]]
    assert call(carol, owned, "get", f"/{store['id']}").status_code == 404
    bob.groups.remove(group)  # leaving the group takes effect on the next call
    assert call(bob, owned, "get", f"/{store['id']}").status_code == 404


def test_a_group_the_caller_is_not_in_is_refused_before_anything_is_created(owned, alice, group, fake_openai):
    response = call(alice, owned, "post", "", {"name": "x"}, group=group.name)
    assert_invalid(response, "group")
    response = call(alice, owned, "post", "", {"name": "x"}, group="no-such-group")
    assert_invalid(response, "group")
    assert not fake_openai.requests_to("POST", "/vector_stores") and not StoreRecord.objects.exists()


def test_the_manage_all_stores_permission_reaches_every_store(owned, alice, bob, fake_openai):
    store = create(alice, owned, "alice's notes")
    unrecorded = fake_openai.create_vector_store(name="made elsewhere")
    bob.user_permissions.add(Permission.objects.get(codename="manage_all_stores"))

    assert set(ids(call(bob, owned, "get"))) == {store["id"], unrecorded["id"]}  # OpenAI's own list
    assert call(bob, owned, "get", f"/{store['id']}").status_code == 200
    assert call(bob, owned, "get", f"/{unrecorded['id']}").status_code == 200


def test_the_permission_through_a_group_counts_too(owned, alice, bob, group):
    store = create(alice, owned, "alice's notes")
    group.permissions.add(Permission.objects.get(codename="manage_all_stores"))
    bob.groups.add(group)
    assert call(bob, owned, "get", f"/{store['id']}").status_code == 200


def test_a_superuser_reaches_every_store(owned, alice, django_user_model, fake_openai):
    store = create(alice, owned, "alice's notes")
    root = django_user_model.objects.create_superuser("root", password="root-password")
    assert call(root, owned, "get", f"/{store['id']}").status_code == 200
    assert ids(call(root, owned, "get")) == [store["id"]]


def test_a_store_made_elsewhere_is_reached_by_nobody_but_managers(owned, alice, fake_openai):
    elsewhere = fake_openai.create_vector_store(name="made in OpenAI's dashboard")
    assert call(alice, owned, "get", f"/{elsewhere['id']}").status_code == 404
    assert ids(call(alice, owned, "get")) == []


def test_a_shared_credential_keeps_every_user_reaching_every_store(owned, alice, bob):
    owned.access_mode = "shared"
    owned.save()
    store = create(alice, owned, "alice's notes")
    assert StoreRecord.objects.get(store_id=store["id"]).owner == alice  # recorded anyway, for a later switch
    assert call(bob, owned, "get", f"/{store['id']}").status_code == 200
    assert ids(call(bob, owned, "get")) == [store["id"]]


# --- lists ----------------------------------------------------------------------------------------


def test_each_user_lists_only_their_own_stores_in_full_pages(owned, alice, bob):
    mine, theirs = [], []
    for n in range(5):  # interleaved, so that filtering OpenAI's pages would leave holes
        mine.append(create(alice, owned, f"alice {n}")["id"])
        theirs.append(create(bob, owned, f"bob {n}")["id"])

    assert ids(call(alice, owned, "get")) == mine[::-1]
    assert ids(call(bob, owned, "get")) == theirs[::-1]

    first = call(alice, owned, "get", limit=2)
    assert ids(first) == mine[::-1][:2]
    second = client_for(alice).get(first["Link"].split(">")[0].lstrip("<"))
    assert ids(second) == mine[::-1][2:4]
    third = call(alice, owned, "get", limit=2, after=mine[1])
    assert ids(third) == [mine[0]] and "Link" not in third
    assert ids(call(alice, owned, "get", order="asc", limit=3)) == mine[:3]
    assert ids(call(alice, owned, "get", limit=2, before=mine[0])) == mine[::-1][2:4]


def test_an_owned_list_costs_the_access_queries_and_one_for_its_records(owned, alice, django_assert_num_queries):
    for n in range(3):
        create(alice, owned, f"alice {n}")
    as_alice = client_for(alice)
    path = f"{API_ROOT}?credential={owned.pk}&limit=2"
    as_alice.get(path)  # the snapshots are current from here on
    with django_assert_num_queries(4):  # token, credential with the access check, the page of records, audit
        response = as_alice.get(path)
    assert len(response.json()) == 2
    with django_assert_num_queries(5):  # with a cursor: the cursor's record too
        assert len(as_alice.get(path + f"&after={response.json()[-1]['id']}").json()) == 1


def test_a_cursor_from_another_users_list_is_refused(owned, alice, bob):
    theirs = create(bob, owned, "bob's")
    create(alice, owned, "alice's")
    assert_invalid(call(alice, owned, "get", after=theirs["id"]), "after")


def test_listing_2000_stores_of_which_the_user_owns_100_costs_one_upstream_page(owned, alice, fake_openai):
    stores = [fake_openai.create_vector_store(name=f"store {n}") for n in range(2000)]
    owned_ones = stores[::20]  # 100, spread over the whole list
    ownership.import_stores(owned, owned_ones[::-1], owner=alice)  # newest first, as OpenAI lists them
    before = len(fake_openai.requests_to("GET", "/vector_stores"))

    listed = ids(call(alice, owned, "get"))

    assert listed == [store["id"] for store in owned_ones][::-1]
    # Today's code lists 100 stores in one call (a page of 100): ownership's list costs that one page.
    assert len(fake_openai.requests_to("GET", "/vector_stores")) - before == 1


def test_a_list_shows_each_store_as_openai_has_it_now(owned, alice, fake_openai):
    store = create(alice, owned, "old name")
    fake_openai.vector_stores[store["id"]]["name"] = "renamed at OpenAI"
    assert [item["name"] for item in call(alice, owned, "get").json()] == ["renamed at OpenAI"]
    assert StoreRecord.objects.get(store_id=store["id"]).snapshot["name"] == "renamed at OpenAI"


# --- stores that go away ------------------------------------------------------------------------------


def test_deleting_a_store_removes_its_record(owned, alice):
    store = create(alice, owned, "short-lived")
    assert call(alice, owned, "delete", f"/{store['id']}").status_code == 200
    assert not StoreRecord.objects.filter(store_id=store["id"]).exists()


def test_a_store_deleted_at_openai_drops_out_of_the_list_and_its_record_goes(owned, alice, fake_openai):
    kept = create(alice, owned, "kept")
    vanished = create(alice, owned, "vanished")
    fake_openai.delete_vector_store(vanished["id"])  # behind this site's back

    assert ids(call(alice, owned, "get")) == [kept["id"]]
    assert list(StoreRecord.objects.values_list("store_id", flat=True)) == [kept["id"]]
    assert call(alice, owned, "get", f"/{vanished['id']}").json()["code"] == "vector_store_not_found"


def test_a_store_deleted_at_openai_answers_404_and_its_record_goes(owned, alice, fake_openai):
    vanished = create(alice, owned, "vanished")
    fake_openai.delete_vector_store(vanished["id"])

    assert call(alice, owned, "get", f"/{vanished['id']}").status_code == 404  # OpenAI's 404
    assert not StoreRecord.objects.exists()
    assert call(alice, owned, "get", f"/{vanished['id']}").json()["code"] == "vector_store_not_found"


@pytest.mark.parametrize("created_at", [10**20, -5, "yesterday", True, 1.5])
def test_a_created_at_that_is_no_time_is_recorded_as_unknown(owned, alice, fake_openai, admin_client, created_at):
    """OpenAI's answers are not trusted: a time no clock shows (or no database integer holds) is recorded as 0."""
    store = create(alice, owned, "odd time")
    fake_openai.vector_stores[store["id"]]["created_at"] = created_at

    assert call(alice, owned, "get", f"/{store['id']}").status_code == 200  # refreshes the record's snapshot
    assert ids(call(alice, owned, "get", "")) == [store["id"]]
    record = StoreRecord.objects.get(store_id=store["id"])
    assert (record.store_created_at, record.snapshot["created_at"]) == (0, created_at)
    page = admin_client.get(f"/admin/vectorstores/storerecord/{record.pk}/change/")
    assert page.status_code == 200 and "unknown" in page.content.decode()

    fake_openai.fail("POST", "/vector_stores$", 200, body={**fake_openai.vector_stores[store["id"]], "id": "vs_new"})
    assert create(alice, owned, "created at an odd time")["id"] == "vs_new"
    assert StoreRecord.objects.get(store_id="vs_new").store_created_at == 0


def test_importing_stores_whose_created_at_is_no_time_sorts_them_as_unknown(owned, fake_openai):
    stores = [fake_openai.create_vector_store(name=f"s{n}") for n in range(3)]
    stores[0]["created_at"], stores[1]["created_at"] = "yesterday", 10**20
    assert set(ownership.import_stores(owned, stores)) == {store["id"] for store in stores}


# --- files ----------------------------------------------------------------------------------------


@pytest.fixture
def alices_file(owned, alice, fake_openai, upload_dir):
    """A File alice uploaded into her store: (store, file id)."""
    store = create(alice, owned, "alice's notes")
    response = call(alice, owned, "post", f"/{store['id']}", {"files": [text_file("notes.txt")]}, "multipart")
    assert response.status_code == 200, response.content
    return store, response.json()[0]["id"]


def test_uploaded_and_attached_files_are_recorded_and_detaching_forgets_them(owned, alice, alices_file, fake_openai):
    store, file_id = alices_file
    assert list(StoreFileRecord.objects.values_list("file_id", "attached_by")) == [(file_id, alice.pk)]
    other = fake_openai.create_file("other.txt", b"other text")
    assert call(alice, owned, "post", f"/{store['id']}/files", {"file_id": other["id"]}).status_code == 200
    assert set(StoreFileRecord.objects.values_list("file_id", flat=True)) == {file_id, other["id"]}

    assert call(alice, owned, "delete", f"/{store['id']}/files/{other['id']}").status_code == 200
    assert call(alice, owned, "patch", f"/{store['id']}", {"file_ids": [file_id]}).status_code == 200
    assert not StoreFileRecord.objects.exists()


def assert_not_attachable(user, credential, file_id, store, fake_openai):
    """`user` attaching the File to `store` (alone, in a batch) or to a new store: each 404 file_not_found, before
    anything reaches OpenAI."""
    before = upstream_calls(fake_openai)
    for body, path in [
        ({"file_id": file_id}, f"/{store['id']}/files"),
        ({"file_ids": [file_id]}, f"/{store['id']}/file_batches"),
        ({"name": "new", "file_ids": [file_id]}, ""),
    ]:
        response = call(user, credential, "post", path, body)
        assert (response.status_code, response.json()["code"]) == (404, "file_not_found"), path
    assert upstream_calls(fake_openai) == before


def test_a_file_in_another_users_store_cannot_be_attached(owned, alice, bob, alices_file, fake_openai):
    _, file_id = alices_file
    assert_not_attachable(bob, owned, file_id, create(bob, owned, "bob's"), fake_openai)


@pytest.mark.parametrize("how", ["detached", "its store deleted"])
def test_a_file_uploaded_into_a_store_stays_its_uploaders_once_no_store_holds_it(
    owned, alice, bob, alices_file, fake_openai, how
):
    store, file_id = alices_file
    path = f"/{store['id']}/files/{file_id}" if how == "detached" else f"/{store['id']}"
    assert call(alice, owned, "delete", path).status_code == 200
    assert file_id in fake_openai.files

    bobs = create(bob, owned, "bob's")
    response = call(bob, owned, "post", f"/{bobs['id']}/files", {"file_id": file_id})
    assert (response.status_code, response.json()["code"]) == (404, "file_not_found")
    alices_other = create(alice, owned, "alice's other")
    assert call(alice, owned, "post", f"/{alices_other['id']}/files", {"file_id": file_id}).status_code == 200


@pytest.mark.parametrize("how", ["in the store, its batch partly failed", "left behind, its cleanup failed"])
def test_files_a_failed_upload_leaves_at_openai_are_the_uploaders(owned, alice, bob, fake_openai, upload_dir, how):
    store = create(alice, owned, "alice's notes")
    fake_openai.failing_filenames = {"bad.txt"}
    if how.startswith("left behind"):
        fake_openai.fail("DELETE", "/files/.*", 500, times=100)
    files = [text_file("good.txt"), text_file("bad.txt")]
    response = call(alice, owned, "post", f"/{store['id']}", {"files": files}, "multipart")
    assert response.status_code == 500, response.content
    report = response.json()["files"]
    left = {file["id"] for file in report if not file["file_deleted"]}
    assert len(left) == (2 if how.startswith("left behind") else 1) and left <= set(fake_openai.files)
    assert set(FileRecord.objects.filter(owner=alice).values_list("file_id", flat=True)) == left
    in_store = {file["id"] for file in report if file["status"] == "completed"}
    assert set(StoreFileRecord.objects.values_list("file_id", flat=True)) == in_store

    bobs = create(bob, owned, "bob's")
    for file_id in left:
        response = call(bob, owned, "post", f"/{bobs['id']}/files", {"file_id": file_id})
        assert (response.status_code, response.json()["code"]) == (404, "file_not_found")


ANSWER_LOST = {
    "an upload into a store": lambda user, credential, store: call(
        user, credential, "post", f"/{store['id']}", {"files": [text_file("notes.txt")]}, "multipart"
    ),
    "OpenAI-compatible POST /files": lambda user, credential, store: client_for(user, "Bearer").post(
        f"/api/openai/{credential.pk}/v1/files", {"file": text_file("notes.txt"), "purpose": "assistants"}
    ),
}


@pytest.mark.parametrize("upload", ANSWER_LOST.values(), ids=ANSWER_LOST.keys())
def test_an_upload_whose_answer_was_lost_never_takes_another_users_file(
    owned, alice, bob, alices_file, fake_openai, upload
):
    """Bob's upload of a file of the same name and size fails as OpenAI may have stored it (a 500): the
    cleanup looks for it among recent Files, and alice's is not it. Her upload's claim is gone (the cache
    cleared, as when it ran in another process of a site without Redis): her File's record decides."""
    _, file_id = alices_file
    cache.clear()
    fake_openai.fail("POST", "/files", 500, times=99)
    response = upload(bob, owned, create(bob, owned, "bob's"))
    assert response.status_code == 502, response.content
    assert file_id in fake_openai.files
    assert not fake_openai.requests_to("DELETE", f"/files/{file_id}")


@pytest.fixture
def teammates_file(owned, alice, bob, group, fake_openai, upload_dir):
    """alice's File in a store she shares with a group she and bob are in: (the store, the file id)."""
    alice.groups.add(group)
    bob.groups.add(group)
    team_store = create(alice, owned, "team notes", group=group.name)
    response = call(alice, owned, "post", f"/{team_store['id']}", {"files": [text_file("plan.txt")]}, "multipart")
    assert response.status_code == 200, response.content
    return team_store, response.json()[0]["id"]


def test_a_teammates_file_cannot_be_copied_into_a_store_its_uploader_does_not_reach(
    owned, alice, bob, group, teammates_file, fake_openai
):
    """bob could keep it after leaving the group, and alice could neither see nor delete that copy."""
    _, file_id = teammates_file
    bobs = create(bob, owned, "bob's own")
    assert_not_attachable(bob, owned, file_id, bobs, fake_openai)

    bob.groups.remove(group)  # so, once he leaves the group, nothing of alice's stays within his reach
    assert call(bob, owned, "get", f"/{bobs['id']}/files/{file_id}").status_code == 404


def test_a_teammates_file_can_go_into_another_store_of_the_group(owned, alice, bob, group, teammates_file):
    _, file_id = teammates_file
    other_team_store = create(bob, owned, "team archive", group=group.name)
    response = call(bob, owned, "post", f"/{other_team_store['id']}/files", {"file_id": file_id})
    assert response.status_code == 200, response.content
    assert call(alice, owned, "delete", f"/{other_team_store['id']}/files/{file_id}").status_code == 200


def test_files_a_new_store_is_created_with_are_recorded_as_its_creators(owned, alice, fake_openai):
    file = fake_openai.create_file("start.txt", b"first words")
    store = call(alice, owned, "post", "", {"name": "with a file", "file_ids": [file["id"]]}).json()
    record = StoreFileRecord.objects.get()
    assert (record.store.store_id, record.file_id, record.attached_by) == (store["id"], file["id"], alice)


def shared_file(owned, alice, bob, alices_file, fake_openai):
    """alice's File, also in bob's store (attached there by a manager): (alice's store, bob's store, file)."""
    store, file_id = alices_file
    bobs = create(bob, owned, "bob's")
    fake_openai.attach_file(bobs["id"], file_id)
    StoreFileRecord.objects.create(store=StoreRecord.objects.get(store_id=bobs["id"]), file_id=file_id)
    return store, bobs, file_id


@pytest.mark.parametrize("route", ["patch", "delete one"])
def test_deleting_a_file_another_users_store_holds_only_detaches_it(owned, alice, bob, alices_file, fake_openai, route):
    store, bobs, file_id = shared_file(owned, alice, bob, alices_file, fake_openai)
    if route == "patch":
        [report] = call(alice, owned, "patch", f"/{store['id']}", {"file_ids": [file_id], "delete_files": True}).json()
    else:
        report = call(alice, owned, "delete", f"/{store['id']}/files/{file_id}", delete_file="true").json()

    assert report["deleted"] is True and report["file_deleted"] is False
    assert "another user" in report["file_kept"]
    assert file_id in fake_openai.files  # the File is still there, in bob's store
    assert (bobs["id"], file_id) in fake_openai.vector_store_files
    assert not fake_openai.requests_to("DELETE", f"/files/{file_id}")


def test_deleting_a_file_no_other_store_holds_deletes_it(owned, alice, alices_file, fake_openai):
    store, file_id = alices_file
    [report] = call(alice, owned, "patch", f"/{store['id']}", {"file_ids": [file_id], "delete_files": True}).json()
    assert report["file_deleted"] is True and "file_kept" not in report
    assert file_id not in fake_openai.files


# --- the audit trail ----------------------------------------------------------------------------------


def test_the_audit_trail_records_the_stores_owner(owned, alice, bob):
    store = create(alice, owned, "alice's notes")
    call(alice, owned, "get", f"/{store['id']}")
    call(bob, owned, "get", f"/{store['id']}")  # refused, and recorded without whose the store is
    call(alice, owned, "delete", f"/{store['id']}")
    entries = [
        (e.username, e.operation, e.vector_store_id, e.store_owner, e.status_code)
        for e in AuditEntry.objects.order_by("id")
    ]
    assert entries == [
        ("alice", "create", store["id"], "alice", 200),
        ("alice", "retrieve", store["id"], "alice", 200),
        ("bob", "retrieve", store["id"], "", 404),  # bob may read his entries: they tell him nothing of alice
        ("alice", "destroy", store["id"], "alice", 200),
    ]


def test_a_deleted_owners_stores_stay_reachable_through_their_group(owned, alice, bob, group):
    alice.groups.add(group)
    bob.groups.add(group)
    store = create(alice, owned, "team notes", group=group.name)
    alice.delete()
    record = StoreRecord.objects.get(store_id=store["id"])
    assert (record.owner, record.group) == (None, group)
    assert call(bob, owned, "get", f"/{store['id']}").status_code == 200


def test_deleting_a_credential_deletes_its_records_not_the_stores(owned, alice, fake_openai):
    store = create(alice, owned, "alice's notes")
    owned.delete()
    assert not StoreRecord.objects.exists()
    assert fake_openai.get_store(store["id"])["name"] == "alice's notes"


# --- records are only forgotten for stores OpenAI confirms gone ----------------------------------------

SECOND = 1_700_000_000


def test_paging_through_stores_of_one_second_keeps_every_record(owned, alice, store_made_at, fake_openai, monkeypatch):
    made_elsewhere = store_made_at("made in the dashboard", SECOND)
    monkeypatch.setattr(state, "now", lambda: SECOND)  # alice's store in the same second, after it at OpenAI
    alices = create(alice, owned, "alice's")
    monkeypatch.undo()
    ownership.assign_store(owned, fake_openai.get_store(made_elsewhere["id"]), owner=alice, group=None)

    first = ids(call(alice, owned, "get", limit=1))
    second = ids(call(alice, owned, "get", limit=1, after=first[0]))

    assert sorted(first + second) == sorted([alices["id"], made_elsewhere["id"]])  # both, once each
    assert StoreRecord.objects.count() == 2
    # The stores of the cursor's second are not even suspected: no GET asked OpenAI whether they are gone.
    assert not [r for r in fake_openai.requests_to("GET", "/vector_stores/") if r.path.count("/") == 2]


def test_a_stray_404_on_a_route_does_not_forget_a_store_that_exists(owned, alice, fake_openai):
    store = create(alice, owned, "alice's")
    fake_openai.fail("POST", rf"/vector_stores/{store['id']}/search", status=404)

    assert call(alice, owned, "post", f"/{store['id']}/search", {"query": "x"}).status_code == 404
    assert StoreRecord.objects.filter(store_id=store["id"]).exists()  # OpenAI still has it: a GET said so
    assert call(alice, owned, "get", f"/{store['id']}").status_code == 200


def test_a_store_an_import_recorded_while_it_was_being_created_becomes_its_creators(
    owned, alice, fake_openai, monkeypatch
):
    real_create = gateway.create_vector_store

    def created_then_imported(credential, fields):
        store = real_create(credential, fields)
        ownership.import_stores(credential, [store])  # an admin's "assign all", in between
        return store

    monkeypatch.setattr(gateway, "create_vector_store", created_then_imported)
    store = create(alice, owned, "raced")

    record = StoreRecord.objects.get(store_id=store["id"])
    assert (record.owner, record.created_by) == (alice, alice)
    assert store["id"] in fake_openai.vector_stores  # not deleted as an orphan


def test_an_imported_stores_files_are_protected_like_attached_ones(owned, alice, bob, fake_openai):
    store = fake_openai.create_vector_store(name="made elsewhere")
    file = fake_openai.create_file("held.txt", b"held")
    fake_openai.attach_file(store["id"], file["id"])
    ownership.import_stores(owned, [fake_openai.get_store(store["id"])], owner=alice)

    assert list(StoreFileRecord.objects.values_list("file_id", flat=True)) == [file["id"]]
    bobs = create(bob, owned, "bob's")
    response = call(bob, owned, "post", f"/{bobs['id']}/files", {"file_id": file["id"]})
    assert response.status_code == 404 and response.json()["code"] == "file_not_found"


@pytest.mark.parametrize("upload", ANSWER_LOST.values(), ids=ANSWER_LOST.keys())
def test_an_upload_answered_with_a_known_files_id_neither_takes_nor_deletes_it(
    owned, alice, bob, alices_file, fake_openai, monkeypatch, upload
):
    """A hostile (or broken) upstream answers bob's upload with the id of alice's File: it stays hers, in her
    store only, and is neither attached to bob's store nor deleted as a leftover of his failed upload."""
    alices_store, file_id = alices_file
    bobs = create(bob, owned, "bob's")
    monkeypatch.setattr(state, "new_id", lambda prefix, length: file_id if prefix == "file-" else f"{prefix}x")

    response = upload(bob, owned, bobs)

    assert response.status_code == 502, response.content
    assert "openai_bad_response" in {response.json().get("code"), response.json().get("error", {}).get("code")}
    assert FileRecord.objects.get(file_id=file_id).owner == alice
    assert file_id in fake_openai.files and not fake_openai.requests_to("DELETE", f"/files/{file_id}")
    assert not fake_openai.requests_to("POST", f"/vector_stores/{bobs['id']}/file_batches")
    assert list(StoreFileRecord.objects.values_list("store__store_id", "file_id")) == [(alices_store["id"], file_id)]


def test_a_new_store_answered_with_a_recorded_stores_id_does_not_take_it(owned, alice, bob, fake_openai, monkeypatch):
    """A hostile (or broken) upstream answers bob's new store with the id of alice's: her record stays hers, and
    the store is not deleted as one bob's request failed to record."""
    alices = create(alice, owned, "alice's notes")
    monkeypatch.setattr(state, "new_id", lambda prefix, length: alices["id"])

    response = call(bob, owned, "post", "", {"name": "bob's"})

    assert (response.status_code, response.json()["code"]) == (502, "openai_bad_response")
    record = StoreRecord.objects.get(store_id=alices["id"])
    assert (record.owner, record.created_by) == (alice, alice)
    assert call(bob, owned, "get", f"/{alices['id']}").status_code == 404
    assert not fake_openai.requests_to("DELETE", f"/vector_stores/{alices['id']}")


@pytest.mark.parametrize("upload", ANSWER_LOST.values(), ids=ANSWER_LOST.keys())
def test_an_upload_answered_with_the_id_of_a_file_a_store_holds_does_not_take_it(
    owned, alice, bob, fake_openai, monkeypatch, upload
):
    """A File the site knows only from a store's records (attached by id, or imported with its store)."""
    store = create(alice, owned, "alice's notes")
    made_elsewhere = fake_openai.create_file("notes.txt", b"made in the dashboard")
    assert call(alice, owned, "post", f"/{store['id']}/files", {"file_id": made_elsewhere["id"]}).status_code == 200
    bobs = create(bob, owned, "bob's")
    monkeypatch.setattr(
        state, "new_id", lambda prefix, length: made_elsewhere["id"] if prefix == "file-" else f"{prefix}x"
    )

    response = upload(bob, owned, bobs)

    assert response.status_code == 502, response.content
    assert not FileRecord.objects.filter(file_id=made_elsewhere["id"]).exists()
    assert list(StoreFileRecord.objects.values_list("store__store_id", "file_id")) == [
        (store["id"], made_elsewhere["id"])
    ]
    assert not fake_openai.requests_to("DELETE", f"/files/{made_elsewhere['id']}")


@pytest.mark.parametrize("upload", ANSWER_LOST.values(), ids=ANSWER_LOST.keys())
def test_an_upload_whose_answer_was_lost_never_takes_a_file_a_store_holds(owned, alice, bob, fake_openai, upload):
    """alice attached a File made elsewhere, of the name and size bob uploads: his cleanup must not take it."""
    store = create(alice, owned, "alice's notes")
    made_elsewhere = fake_openai.create_file("notes.txt", b"some text about vector stores")  # as bob's
    assert call(alice, owned, "post", f"/{store['id']}/files", {"file_id": made_elsewhere["id"]}).status_code == 200
    cache.clear()
    fake_openai.fail("POST", "/files", 500, times=99)

    assert upload(bob, owned, create(bob, owned, "bob's")).status_code == 502
    assert made_elsewhere["id"] in fake_openai.files
    assert not fake_openai.requests_to("DELETE", f"/files/{made_elsewhere['id']}")
