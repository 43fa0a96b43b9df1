"""Stores belong to people, in the console too: a credential in owned mode, through Django's test client.

Two staff users share one credential. Each lists, opens and changes only their own stores (and those shared
with a group of theirs); every page of the other's store answers 404 like a credential that does not exist,
before anything reaches OpenAI. What the pages do is recorded (created, deleted, Files attached, uploaded and
removed) and a removal never deletes a File that a store of somebody else holds. A manager (the
manage_all_stores permission) sees every store with its owner and group, filters by owner, reassigns a
store and imports the stores that have no record; nobody else may. A credential in shared mode is unchanged.
"""

import html
import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import constants
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import strip_tags

from tests.conftest import admin_url, logged_in, messages_of, text_file
from tests.console.conftest import console_url, grant_manage_all_stores, log_messages, staff
from vectorstores.api.serializers import ATTRIBUTES_MAX_PAIRS, METADATA_MAX_PAIRS
from vectorstores.models import AuditEntry, StoreFileRecord, StoreRecord
from vectorstores.testing import create_credential

pytestmark = pytest.mark.django_db


def store_data(name, **changes):
    """The add form as posted: a store named `name`, and `changes`."""
    data = {
        "name": name,
        "description": "",
        "expiry_days": "",
        "file_ids": "",
        "chunking": "auto",
        "max_chunk_size_tokens": "800",
        "chunk_overlap_tokens": "400",
        "metadata-TOTAL_FORMS": "0",
        "metadata-INITIAL_FORMS": "0",
        "metadata-MIN_NUM_FORMS": "0",
        "metadata-MAX_NUM_FORMS": str(METADATA_MAX_PAIRS),
    }
    return {**data, **changes}


def attach_data(ids):
    """The attach form as posted: the ids, no attributes, OpenAI's chunking."""
    return {
        "file_ids": ids,
        "chunking": "auto",
        "max_chunk_size_tokens": "800",
        "chunk_overlap_tokens": "400",
        "attributes-TOTAL_FORMS": "0",
        "attributes-INITIAL_FORMS": "0",
        "attributes-MIN_NUM_FORMS": "0",
        "attributes-MAX_NUM_FORMS": str(ATTRIBUTES_MAX_PAIRS),
    }


def create_store(client, credential, name, **changes):
    """Create a store through the console as the client's user: its id."""
    response = client.post(console_url("vector_store_add", credential), store_data(name, **changes))
    assert response.status_code == 302, response.content.decode()
    return response.url.rstrip("/").rsplit("/", 1)[-1]


def listed(content):
    """{store name: (owner, group)} as the store list shows them."""
    rows = re.findall(
        r'class="field-name"><a href="[^"]*">([^<]*)</a>.*?'
        r'<td class="field-owner">(.*?)</td>\s*<td class="field-group">(.*?)</td>',
        content,
        re.S,
    )
    return {html.unescape(name): (strip_tags(owner), strip_tags(group)) for name, owner, group in rows}


def owner_filter(content):
    """The filter by owner: (label, URL, whether it is the one applied) of each of its links."""
    nav = re.search(r'<nav id="changelist-filter".*?</nav>', content, re.S).group(0)
    links = re.findall(r'<li( class="selected")?><a href="([^"]*)"[^>]*>([^<]*)</a></li>', nav)
    return [(label, html.unescape(url), bool(selected)) for selected, url, label in links]


def list_page(client, credential, query=""):
    response = client.get(console_url("vector_stores", credential) + query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def two_stores(ann, ben, owned_credential):
    """ann's store "Ann's notes" and ben's "Ben's notes", each made through the console: their ids."""
    return (
        create_store(logged_in(ann), owned_credential, "Ann's notes"),
        create_store(logged_in(ben), owned_credential, "Ben's notes"),
    )


# --- each user reaches their own stores ---------------------------------------------------------------------


def test_a_store_made_in_the_console_is_its_makers(ann, owned_credential, two_stores):
    record = StoreRecord.objects.get(store_id=two_stores[0])
    assert (record.credential, record.owner, record.created_by, record.group) == (owned_credential, ann, ann, None)
    assert record.snapshot["name"] == "Ann's notes"


@pytest.mark.parametrize(
    "query", ["", "?o=name", "?o=created", "?q=notes"], ids=["paged", "sorted here", "oldest first", "searched"]
)
def test_each_user_lists_only_their_own_stores(ann, ben, owned_credential, two_stores, query):
    assert listed(list_page(logged_in(ann), owned_credential, query)) == {"Ann's notes": ("ann", "—")}
    assert listed(list_page(logged_in(ben), owned_credential, query)) == {"Ben's notes": ("ben", "—")}


def test_a_search_for_the_whole_id_of_another_users_store_finds_nothing(ann, owned_credential, two_stores, fake_openai):
    fake_openai.requests.clear()
    content = list_page(logged_in(ann), owned_credential, f"?q={two_stores[1]}")
    assert "No vector store matches" in content and "Ben&#x27;s notes" not in content
    assert fake_openai.requests_to("GET", f"/vector_stores/{two_stores[1]}") == []  # never retrieved
    # Their own is still found by its id alone.
    content = list_page(logged_in(ann), owned_credential, f"?q={two_stores[0]}")
    assert listed(content) == {"Ann's notes": ("ann", "—")} and "Found by its id" in content


def test_a_page_link_naming_another_users_store_shows_the_first_page(ann, owned_credential, two_stores):
    response = logged_in(ann).get(console_url("vector_stores", owned_credential) + f"?after={two_stores[1]}")
    assert listed(response.content.decode()) == {"Ann's notes": ("ann", "—")}
    assert (constants.WARNING, "That page link is not valid, so the first page is shown.") in messages_of(response)


# Every page that names a store: (method, URL name, the file's or batch's id below the store, what is sent).
STORE_PAGES = [
    ("get", "vector_store", (), None),
    ("get", "vector_store_change", (), None),
    ("post", "vector_store_change", (), store_data("Taken")),
    ("get", "vector_store_delete", (), None),
    ("post", "vector_store_delete", (), {"post": "yes", "delete_files": "on"}),
    ("post", "vector_store_remove_files", (), {"file_ids": ["file-abc"], "post": "yes", "delete_files": "on"}),
    ("get", "vector_store_attach", (), None),
    ("post", "vector_store_attach", (), attach_data("file-abc")),
    ("get", "vector_store_owner", (), None),
    ("post", "vector_store_owner", (), {"owner": "", "group": ""}),
    ("get", "vector_store_file", ("file-abc",), None),
    ("post", "vector_store_file", ("file-abc",), {"attributes-TOTAL_FORMS": "0"}),
    ("get", "vector_store_file_remove", ("file-abc",), None),
    ("post", "vector_store_file_remove", ("file-abc",), {"post": "yes", "delete_files": "on"}),
    ("get", "vector_store_batch", ("vsfb_abc",), None),
    ("get", "vector_store_batch", ("vsfb_abc",), {"format": "json"}),
    ("post", "vector_store_batch_cancel", ("vsfb_abc",), None),
    ("post", "vector_store_upload", (), {"files": [text_file("a.txt")]}),
]


@pytest.mark.parametrize(
    ("method", "name", "below", "data"),
    STORE_PAGES,
    ids=[
        f"{method} {name}{'?format=json' if data == {'format': 'json'} else ''}"
        for method, name, _, data in STORE_PAGES
    ],
)
def test_every_page_of_another_users_store_answers_404_before_calling_openai(
    ann, owned_credential, two_stores, fake_openai, method, name, below, data
):
    ben_store = two_stores[1]
    fake_openai.requests.clear()
    response = getattr(logged_in(ann), method)(console_url(name, owned_credential, ben_store, *below), data)
    assert response.status_code == 404
    if name == "vector_store_upload":  # the API's answer for a credential they may not use: nothing told
        assert response.json()["code"] == "credential_not_found"
    assert fake_openai.requests == []
    assert ben_store in fake_openai.vector_stores
    assert list(StoreRecord.objects.filter(store_id=ben_store).values_list("owner__username", "group")) == [
        ("ben", None)
    ]


def test_a_user_changes_and_deletes_their_own_store_and_its_record_follows(
    ann, ben, owned_credential, two_stores, fake_openai
):
    client = logged_in(ann)
    ann_store, ben_store = two_stores
    response = client.post(console_url("vector_store_change", owned_credential, ann_store), store_data("Renamed"))
    assert response.status_code == 302
    assert StoreRecord.objects.get(store_id=ann_store).snapshot["name"] == "Renamed"  # as OpenAI returned it
    response = client.post(console_url("vector_store_delete", owned_credential, ann_store), {"post": "yes"})
    assert response.status_code == 302 and ann_store not in fake_openai.vector_stores
    assert list(StoreRecord.objects.values_list("store_id", flat=True)) == [ben_store]


def test_a_store_gone_at_openai_loses_its_record(ann, owned_credential, two_stores, fake_openai):
    with fake_openai.lock:
        del fake_openai.vector_stores[two_stores[0]]
    response = logged_in(ann).get(console_url("vector_store", owned_credential, two_stores[0]))
    assert response.status_code == 302 and response.url == console_url("vector_stores", owned_credential)
    assert not StoreRecord.objects.filter(store_id=two_stores[0]).exists()


# --- groups ---------------------------------------------------------------------------------------------------


def test_a_store_shared_with_a_group_is_reached_by_its_members(
    django_user_model, ann, ben, owned_credential, fake_openai
):
    analysts, auditors = Group.objects.create(name="analysts"), Group.objects.create(name="auditors")
    ann.groups.add(analysts)
    ben.groups.add(analysts)
    outsider = staff(django_user_model, "cy", "view_credential", "change_credential", credential=owned_credential)
    outsider.groups.add(auditors)
    client = logged_in(ann)
    form = client.get(console_url("vector_store_add", owned_credential)).content.decode()
    assert '<option value="analysts">analysts</option>' in form and "auditors" not in form  # only hers
    # A group of somebody else is no choice; nothing reaches OpenAI.
    response = client.post(console_url("vector_store_add", owned_credential), store_data("Shared", group="auditors"))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert fake_openai.requests_to("POST", "/vector_stores") == []

    store_id = create_store(client, owned_credential, "Shared", group="analysts")
    assert StoreRecord.objects.get(store_id=store_id).group == analysts
    assert log_messages(owned_credential) == [f"Created vector store {store_id} 'Shared', shared with group analysts."]
    assert listed(list_page(logged_in(ben), owned_credential)) == {"Shared": ("ann", "analysts")}
    assert logged_in(ben).get(console_url("vector_store", owned_credential, store_id)).status_code == 200
    assert listed(list_page(logged_in(outsider), owned_credential)) == {}
    assert logged_in(outsider).get(console_url("vector_store", owned_credential, store_id)).status_code == 404


def test_without_groups_the_add_form_offers_none(ann, owned_credential):
    content = logged_in(ann).get(console_url("vector_store_add", owned_credential)).content.decode()
    assert 'name="group"' not in content


# --- Files: recorded, and never deleted from a store of somebody else ---------------------------------------


def test_attached_uploaded_and_removed_files_are_recorded(ann, owned_credential, two_stores, fake_openai):
    client = logged_in(ann)
    ann_store = two_stores[0]
    attached = fake_openai.create_file("attached.txt", b"attached")
    response = client.post(console_url("vector_store_attach", owned_credential, ann_store), attach_data(attached["id"]))
    assert response.status_code == 302
    response = client.post(
        console_url("vector_store_upload", owned_credential, ann_store), {"files": [text_file("uploaded.txt")]}
    )
    assert response.status_code == 200
    [uploaded] = response.json()

    def recorded():
        return set(
            StoreFileRecord.objects.filter(store__store_id=ann_store, attached_by=ann).values_list("file_id", flat=True)
        )

    assert recorded() == {attached["id"], uploaded["id"]}
    response = client.post(
        console_url("vector_store_remove_files", owned_credential, ann_store),
        {"file_ids": [attached["id"]], "post": "yes"},
    )
    assert response.status_code == 302
    assert recorded() == {uploaded["id"]}


def test_a_file_in_another_users_store_cannot_be_attached(ann, ben, owned_credential, two_stores, fake_openai):
    ann_store, ben_store = two_stores
    file = fake_openai.create_file("bens.txt", b"ben's")
    logged_in(ben).post(console_url("vector_store_attach", owned_credential, ben_store), attach_data(file["id"]))
    fake_openai.requests.clear()
    client = logged_in(ann)
    for response in [
        client.post(console_url("vector_store_attach", owned_credential, ann_store), attach_data(file["id"])),
        client.post(console_url("vector_store_add", owned_credential), store_data("Mine", file_ids=file["id"])),
    ]:
        assert response.status_code == 200
        assert f"No such file: {file['id']}." in response.content.decode()
    assert fake_openai.requests_to("POST", "/vector_stores") == []  # no batch, no store


@pytest.mark.parametrize("page", ["remove files", "remove one file", "delete the store"])
def test_deleting_files_keeps_those_that_a_store_of_another_user_holds(
    ann, ben, owned_credential, two_stores, fake_openai, page
):
    ann_store, ben_store = two_stores
    shared = fake_openai.create_file("shared.txt", b"in both stores")
    own = fake_openai.create_file("own.txt", b"only in ann's store")
    logged_in(ben).post(console_url("vector_store_attach", owned_credential, ben_store), attach_data(shared["id"]))
    fake_openai.attach_file(ann_store, shared["id"])  # there before this site recorded Files
    fake_openai.attach_file(ann_store, own["id"])
    client = logged_in(ann)
    if page == "remove files":
        url = console_url("vector_store_remove_files", owned_credential, ann_store)
        response = client.post(url, {"file_ids": [shared["id"], own["id"]], "post": "yes", "delete_files": "on"})
    elif page == "remove one file":
        url = console_url("vector_store_file_remove", owned_credential, ann_store, shared["id"])
        response = client.post(url, {"post": "yes", "delete_files": "on"})
    else:
        url = console_url("vector_store_delete", owned_credential, ann_store)
        response = client.post(url, {"post": "yes", "delete_files": "on"})
    assert response.status_code == 302
    kept = f"Kept at OpenAI, as it is also in a vector store of another user: {shared['id']}."
    assert any(kept in message for message in log_messages(owned_credential))
    assert any(kept in text for _, text in messages_of(client.get(response.url)))
    assert shared["id"] in fake_openai.files  # still ben's
    assert (ben_store, shared["id"]) in fake_openai.vector_store_files
    assert (ann_store, shared["id"]) not in fake_openai.vector_store_files  # but out of ann's store
    if page != "remove one file":
        assert own["id"] not in fake_openai.files  # hers alone: deleted


# --- a manager: every store, whose it is, the owner filter ---------------------------------------------------


@pytest.fixture
def unrecorded(fake_openai):
    """A store made at OpenAI outside this site: no record."""
    return fake_openai.create_vector_store(name="Found at OpenAI")


def test_a_manager_sees_every_store_with_its_owner_and_group(
    manager, ann, owned_credential, two_stores, unrecorded, fake_openai
):
    analysts = Group.objects.create(name="analysts")
    StoreRecord.objects.filter(store_id=two_stores[0]).update(group=analysts)
    client = logged_in(manager)
    with CaptureQueriesContext(connection) as queries:
        content = list_page(client, owned_credential)
    assert listed(content) == {
        "Found at OpenAI": ("—", "—"),
        "Ben's notes": ("ben", "—"),
        "Ann's notes": ("ann", "analysts"),
    }
    # Besides the access check: the page's records in one query, and the owners of the filter in another.
    record_queries = [
        query["sql"]
        for query in queries
        if '"vectorstores_storerecord"' in query["sql"] and '"credentials_credential"' not in query["sql"]
    ]
    assert len(record_queries) == 2, record_queries
    store_page = client.get(console_url("vector_store", owned_credential, two_stores[0])).content.decode()
    ownership_line = re.search(r'id="vs-ownership">(.*?)</div>\s*</div>', store_page, re.S).group(1)
    assert re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", ownership_line) == [
        ("Owner", "ann"),
        ("Group", "analysts"),
        ("Created by", "ann"),
    ]
    unrecorded_page = client.get(console_url("vector_store", owned_credential, unrecorded["id"])).content.decode()
    assert "not recorded on this site" in unrecorded_page


def test_the_list_filters_by_owner(manager, ann, owned_credential, two_stores, unrecorded):
    client = logged_in(manager)
    content = list_page(client, owned_credential, "?owner=ann")
    assert listed(content) == {"Ann's notes": ("ann", "—")}
    assert "Filtered by owner: every vector store was fetched from OpenAI" in html.unescape(content)
    assert listed(list_page(client, owned_credential, "?owner=")) == {"Found at OpenAI": ("—", "—")}
    # An apostrophe: no random store id can match the search by chance.
    assert listed(list_page(client, owned_credential, "?owner=ann&q=Ben%27s")) == {}
    assert listed(list_page(client, owned_credential, "?owner=nobody")) == {}
    assert owner_filter(content) == [
        ("All", "?", False),
        ("ann", "?owner=ann", True),
        ("ben", "?owner=ben", False),
        ("(none)", "?owner=", False),
    ]
    # A user who reaches only their own stores filters those, and is offered only their owners.
    content = list_page(logged_in(ann), owned_credential, "?owner=ben")
    assert listed(content) == {}
    assert [label for label, _, _ in owner_filter(content)] == ["All", "ann", "(none)"]


# --- reassigning a store ---------------------------------------------------------------------------------------


def test_a_manager_reassigns_a_store(manager, ann, ben, owned_credential, two_stores, fake_openai):
    client = logged_in(manager)
    ann_store = two_stores[0]
    analysts = Group.objects.create(name="analysts")
    store_page = client.get(console_url("vector_store", owned_credential, ann_store)).content.decode()
    assert 'id="vs-owner-form"' in store_page
    response = client.post(
        console_url("vector_store_owner", owned_credential, ann_store), {"owner": ben.pk, "group": analysts.pk}
    )
    assert response.status_code == 302 and response.url == console_url("vector_store", owned_credential, ann_store)
    record = StoreRecord.objects.get(store_id=ann_store)
    assert (record.owner, record.group, record.created_by) == (ben, analysts, ann)
    message = (
        f"Assigned vector store {ann_store} 'Ann's notes' to owner ben and group analysts "
        "(it had owner ann and no group)."
    )
    assert log_messages(owned_credential)[-1] == message
    entry = AuditEntry.objects.get(operation="console_assign_owner")
    assert (entry.username, entry.vector_store_id, entry.store_owner) == ("manager", ann_store, "ann")  # then
    assert logged_in(ann).get(console_url("vector_store", owned_credential, ann_store)).status_code == 404
    assert logged_in(ben).get(console_url("vector_store", owned_credential, ann_store)).status_code == 200


def test_reassigning_an_unrecorded_store_records_it(manager, ann, owned_credential, unrecorded):
    response = logged_in(manager).post(
        console_url("vector_store_owner", owned_credential, unrecorded["id"]), {"owner": ann.pk, "group": ""}
    )
    assert response.status_code == 302
    record = StoreRecord.objects.get(store_id=unrecorded["id"])
    assert (record.owner, record.group, record.snapshot["name"]) == (ann, None, "Found at OpenAI")
    assert log_messages(owned_credential) == [
        f"Recorded vector store {unrecorded['id']} 'Found at OpenAI' with owner ann and no group."
    ]
    assert logged_in(ann).get(console_url("vector_store", owned_credential, unrecorded["id"])).status_code == 200


def test_a_store_goes_only_to_a_user_of_the_credential(django_user_model, manager, owned_credential, two_stores):
    stranger = staff(django_user_model, "stranger", "view_credential")  # may not use this credential
    url = console_url("vector_store_owner", owned_credential, two_stores[0])
    client = logged_in(manager)
    for data, error in [
        ({"owner": stranger.pk, "group": ""}, "Select a valid choice"),
        ({"owner": "", "group": ""}, "Choose an owner, a group or both"),
    ]:
        response = client.post(url, data)
        assert response.status_code == 200 and error in response.content.decode()
    assert StoreRecord.objects.get(store_id=two_stores[0]).owner.username == "ann"
    assert not [message for message in log_messages(owned_credential) if not message.startswith("Created")]


def test_only_managers_with_the_change_permission_reassign(
    django_user_model, ann, ben, owned_credential, two_stores, fake_openai
):
    ann_store = two_stores[0]
    url = console_url("vector_store_owner", owned_credential, ann_store)
    viewing_manager = staff(django_user_model, "viewing-manager", "view_credential", credential=owned_credential)
    grant_manage_all_stores(viewing_manager)
    client = logged_in(ann)
    assert (
        'id="vs-owner-form"'
        not in client.get(console_url("vector_store", owned_credential, ann_store)).content.decode()
    )
    assert client.get(url).status_code == 403
    assert client.post(url, {"owner": ben.pk, "group": ""}).status_code == 403
    viewer_page = logged_in(viewing_manager).get(console_url("vector_store", owned_credential, ann_store))
    assert viewer_page.status_code == 200 and 'id="vs-owner-form"' not in viewer_page.content.decode()
    assert logged_in(viewing_manager).post(url, {"owner": ben.pk, "group": ""}).status_code == 403
    assert StoreRecord.objects.get(store_id=ann_store).owner == ann


# --- importing the stores without a record ------------------------------------------------------------------


@pytest.fixture
def three_unrecorded(fake_openai):
    return [fake_openai.create_vector_store(name=f"Old {index}") for index in range(3)]


def import_url(credential):
    return console_url("vector_store_import", credential)


def test_the_import_page_lists_the_stores_without_a_record_and_assigns_them(
    manager, ann, ben, owned_credential, two_stores, three_unrecorded
):
    client = logged_in(manager)
    assert import_url(owned_credential) in list_page(client, owned_credential)  # linked from the list
    content = client.get(import_url(owned_credential)).content.decode()
    assert re.findall(r'name="store_ids" value="([^"]*)"', content) == [store["id"] for store in three_unrecorded[::-1]]
    assert "3 vector stores without a record" in content and "Assign all 3 listed" in content

    one, *others = three_unrecorded
    response = client.post(import_url(owned_credential), {"store_ids": [one["id"]], "owner": ann.pk, "group": ""})
    assert response.status_code == 302 and response.url == import_url(owned_credential)
    message = f"Recorded 1 vector store with owner ann and no group: {one['id']}."
    assert (constants.SUCCESS, message) in messages_of(client.get(response.url))
    assert StoreRecord.objects.get(store_id=one["id"]).owner == ann

    analysts = Group.objects.create(name="analysts")
    response = client.post(import_url(owned_credential), {"owner": "", "group": analysts.pk, "_assign_all": "x"})
    assert response.status_code == 302
    for store in others:
        record = StoreRecord.objects.get(store_id=store["id"])
        assert (record.owner, record.group) == (None, analysts)
    assert log_messages(owned_credential)[-2] == message
    last = log_messages(owned_credential)[-1]
    assert last.startswith("Recorded 2 vector stores with no owner and group analysts: ")
    assert all(store["id"] in last for store in others)
    imports = AuditEntry.objects.filter(operation="console_import").order_by("id").values_list("object_ids", flat=True)
    assert [set(ids.split()) for ids in imports] == [{one["id"]}, {store["id"] for store in others}]
    assert (
        "Every vector store of Team key that OpenAI listed has a record"
        in client.get(import_url(owned_credential)).content.decode()
    )
    # The owners and the group now reach them.
    assert set(listed(list_page(logged_in(ann), owned_credential))) == {"Ann's notes", "Old 0"}


def test_an_import_needs_a_choice_of_stores_and_of_whose_they_become(manager, ann, owned_credential, three_unrecorded):
    client = logged_in(manager)
    for data, error in [
        ({"owner": ann.pk, "group": ""}, "Select the vector stores to assign, or assign all listed."),
        ({"store_ids": [three_unrecorded[0]["id"]], "owner": "", "group": ""}, "Choose an owner, a group or both"),
        ({"store_ids": ["vs_notlisted"], "owner": ann.pk, "group": ""}, "Select a valid choice"),
    ]:
        response = client.post(import_url(owned_credential), data)
        assert response.status_code == 200 and error in response.content.decode()
    assert not StoreRecord.objects.exists()


def test_the_import_page_is_for_managers_with_the_change_permission(
    django_user_model, ann, owned_credential, three_unrecorded
):
    viewing_manager = staff(django_user_model, "viewing-manager", "view_credential", credential=owned_credential)
    grant_manage_all_stores(viewing_manager)
    assert import_url(owned_credential) not in list_page(logged_in(ann), owned_credential)
    for user in (ann, viewing_manager):
        client = logged_in(user)
        assert client.get(import_url(owned_credential)).status_code == 403
        data = {"owner": ann.pk, "group": "", "_assign_all": "x"}
        assert client.post(import_url(owned_credential), data).status_code == 403
    assert not StoreRecord.objects.exists()


def test_the_import_page_says_when_openai_had_more_stores_than_were_looked_at(
    manager, owned_credential, three_unrecorded, settings
):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 2}
    content = logged_in(manager).get(import_url(owned_credential)).content.decode()
    assert "OpenAI holds more vector stores of Team key than the 2 looked at" in content
    assert len(re.findall(r'name="store_ids"', content)) == 2


# --- shared mode ----------------------------------------------------------------------------------------------


def test_in_shared_mode_every_user_reaches_every_store(django_user_model, fake_openai):
    credential = create_credential(fake_openai, name="Shared key", access_mode="shared")
    ann = staff(django_user_model, "ann", "view_credential", "change_credential", credential=credential)
    ben = staff(django_user_model, "ben", "view_credential", "change_credential", credential=credential)
    ann_store = create_store(logged_in(ann), credential, "Ann's notes")
    assert StoreRecord.objects.get(store_id=ann_store).owner == ann  # recorded, for a switch to owned mode
    client = logged_in(ben)
    assert listed(list_page(client, credential)) == {"Ann's notes": ("ann", "—")}
    for name in ("vector_store", "vector_store_change", "vector_store_delete"):
        assert client.get(console_url(name, credential, ann_store)).status_code == 200
    assert import_url(credential) not in list_page(client, credential)
    assert client.get(import_url(credential)).status_code == 403


# --- what the credential's other pages let slip ------------------------------------------------------


def removal_pages_for_a_typed_id(user, credential, file_id):
    """The pages that ask before removing the File `file_id` from a new store of `user`'s (one File, several):
    their HTML."""
    store = create_store(logged_in(user), credential, f"{user.username}'s")
    one = logged_in(user).get(console_url("vector_store_file_remove", credential, store, file_id))
    several = logged_in(user).post(console_url("vector_store_remove_files", credential, store), {"file_ids": [file_id]})
    assert (one.status_code, several.status_code) == (200, 200)
    return [one.content.decode(), several.content.decode()]


def test_the_names_of_files_in_another_users_store_are_not_shown_for_typed_ids(ann, ben, owned_credential, fake_openai):
    anns = create_store(logged_in(ann), owned_credential, "Ann's")
    secret = fake_openai.create_file("layoffs-2026-q3.pdf", b"%PDF secret")
    fake_openai.attach_file(anns, secret["id"])
    StoreFileRecord.objects.create(store=StoreRecord.objects.get(store_id=anns), file_id=secret["id"])
    for page in removal_pages_for_a_typed_id(ben, owned_credential, secret["id"]):
        assert "layoffs-2026-q3.pdf" not in page
    assert not fake_openai.requests_to("GET", f"/files/{secret['id']}")


def test_the_names_of_the_keys_files_for_other_uses_are_not_shown_for_typed_ids(ben, owned_credential, fake_openai):
    """Fine-tuning data is not a vector store's: the API and the OpenAI-compatible routes answer 404 for it."""
    payroll = fake_openai.create_file("secret-payroll-2026.jsonl", b'{"messages": []}', purpose="fine-tune")
    for page in removal_pages_for_a_typed_id(ben, owned_credential, payroll["id"]):
        assert "secret-payroll-2026.jsonl" not in page and "fine-tune" not in page


def test_an_owned_credentials_history_is_for_those_who_reach_every_store(ann, ben, manager, owned_credential):
    anns = create_store(logged_in(ann), owned_credential, "Ann secret merger")
    history = admin_url("history", owned_credential.pk)

    assert logged_in(ben).get(history).status_code == 403  # it names every store the console changed
    assert (
        'class="historylink"' not in logged_in(ben).get(console_url("vector_stores", owned_credential)).content.decode()
    )
    page = logged_in(manager).get(history)
    assert page.status_code == 200 and anns in page.content.decode()
    owned_credential.access_mode = "shared"
    owned_credential.save()
    assert logged_in(ben).get(history).status_code == 200


# --- the import's OpenAI calls count against the manager's rate ------------------------------------------------


@pytest.mark.parametrize(("rate", "status"), [(3, 429), (4, 302)])
def test_an_import_counts_each_stores_list_of_files_against_the_rate(
    manager, ann, owned_credential, three_unrecorded, fake_openai, throttle_rates, rate, status
):
    """The page counts once (its list of stores, one upstream page), and each store's list of files once
    more: 4 for three stores. Past the rate nothing is recorded."""
    throttle_rates(f"{rate}/minute")
    data = {"store_ids": [store["id"] for store in three_unrecorded], "owner": ann.pk, "group": ""}

    response = logged_in(manager).post(import_url(owned_credential), data)

    assert response.status_code == status
    assert StoreRecord.objects.count() == (3 if status == 302 else 0)


def test_the_import_pages_list_of_every_store_counts_once_per_upstream_page(
    manager, owned_credential, fake_openai, throttle_rates
):
    for n in range(250):
        fake_openai.create_vector_store(name=f"Old {n}")
    throttle_rates("2/minute")

    response = logged_in(manager).get(import_url(owned_credential))

    assert response.status_code == 429
    pages = [request for request in fake_openai.requests if (request.method, request.path) == ("GET", "/vector_stores")]
    assert len(pages) == 2


@pytest.mark.parametrize(("rate", "status"), [(1, 429), (2, 302)])
def test_recording_an_unrecorded_store_counts_its_list_of_files(
    manager, ann, owned_credential, unrecorded, fake_openai, throttle_rates, rate, status
):
    throttle_rates(f"{rate}/minute")

    response = logged_in(manager).post(
        console_url("vector_store_owner", owned_credential, unrecorded["id"]), {"owner": ann.pk, "group": ""}
    )

    assert response.status_code == status
    assert StoreRecord.objects.filter(store_id=unrecorded["id"]).exists() == (status == 302)
