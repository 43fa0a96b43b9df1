"""The vector store console in Django admin, through Django's test client with the fake OpenAI behind it.

Access (staff, model permissions, the API's credential rules), every page, the create/edit/delete
flows, removing files, search, uploads through the API's upload path, upstream errors shown as admin
messages (never a 500), the admin log, and the API key never on a page.
"""

import html
import json
import re

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.messages import constants, get_messages
from django.test import Client
from django.urls import path

from credentials.admin import CredentialAdmin
from credentials.models import Credential
from tests.conftest import (
    TEST_API_KEY,
    admin_url,
    api_path,
    client_for,
    leaked_keys,
    logged_in,
    messages_of,
    text_file,
)
from tests.console.conftest import console_url, log_messages, staff
from vectorstores import gateway
from vectorstores.api import throttling
from vectorstores.api.serializers import (
    EXPIRY_DAYS,
    MAX_CHUNK_SIZE_TOKENS,
    METADATA_KEY_MAX_LENGTH,
    METADATA_MAX_PAIRS,
)
from vectorstores.api.throttling import ThrottleUnavailable
from vectorstores.console.views import Console
from vectorstores.models import AuditEntry, FileRecord

pytestmark = pytest.mark.django_db

PAGES = ["vector_stores", "vector_store_add", "vector_store", "vector_store_change", "vector_store_delete"]


def page_url(name, credential, store):
    return console_url(name, credential, store["id"] if name not in {"vector_stores", "vector_store_add"} else None)


# --- what a hostile OpenAI sends ----------------------------------------------------------------------------

# Values of the wrong type or beyond any count: the pages show them as unknown, never a 500.
ODD_STORE_VALUES = {
    "name": 5,
    "usage_bytes": 10**400,
    "file_counts": {"completed": 10**400, "failed": "many"},
    "expires_after": "soon",
    "metadata": ["not", "a", "dict"],
    "created_at": 10**20,
}


@pytest.mark.parametrize(("field", "value"), list(ODD_STORE_VALUES.items()))
def test_odd_store_values_from_openai_never_break_a_page(admin_client, credential, store, fake_openai, field, value):
    file = fake_openai.create_file("notes.txt", b"some text")
    fake_openai.files[file["id"]]["bytes"] = 10**400
    fake_openai.attach_file(store["id"], file["id"])
    fake_openai.vector_stores[store["id"]][field] = value
    fake_openai.vector_store_files[(store["id"], file["id"])]["usage_bytes"] = 10**400
    for name in ["vector_stores", "vector_store", "vector_store_change", "vector_store_delete"]:
        assert admin_client.get(page_url(name, credential, store)).status_code == 200, name
    for query in [{"o": "name"}, {"q": "no"}, {"o": "size"}, {"o": "files"}]:
        assert admin_client.get(page_url("vector_stores", credential, store), query).status_code == 200, query


@pytest.mark.parametrize(
    "page",
    [
        {"data": 5},
        {"data": [{"file_id": ["a", "list"], "filename": 7, "score": "high", "content": 3, "attributes": "x"}]},
    ],
    ids=["data not a list", "a result of odd types"],
)
def test_odd_search_results_from_openai_never_break_the_store_page(admin_client, credential, store, fake_openai, page):
    results = {"object": "vector_store.search_results.page", "search_query": ["q"], "has_more": False, **page}
    fake_openai.fail("POST", f"/vector_stores/{store['id']}/search", 200, body=results)
    assert admin_client.get(page_url("vector_store", credential, store), {"q": "password"}).status_code == 200


# --- access -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_and_non_staff_users_are_sent_to_the_admin_login(client, user, credential, store, fake_openai, name):
    fake_openai.requests.clear()
    url = page_url(name, credential, store)
    assert client.get(url).url.startswith("/admin/login/")
    client.force_login(user)  # may use the credential through the API, but is not staff
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    assert fake_openai.requests == []


@pytest.mark.parametrize("name", PAGES)
def test_staff_without_the_model_permissions_get_403(django_user_model, credential, store, fake_openai, name):
    client = logged_in(staff(django_user_model, "no-perms", credential=credential))
    fake_openai.requests.clear()
    assert client.get(page_url(name, credential, store)).status_code == 403
    assert fake_openai.requests == []


@pytest.mark.parametrize("name", PAGES)
def test_staff_who_may_not_use_the_credential_get_404(django_user_model, credential, store, fake_openai, name):
    # Every permission, but not one of the credential's users or groups: as if it did not exist.
    client = logged_in(staff(django_user_model, "outsider", "view_credential", "change_credential"))
    fake_openai.requests.clear()
    assert client.get(page_url(name, credential, store)).status_code == 404
    missing = Credential(pk="00000000-0000-4000-8000-000000000000")
    assert client.get(page_url(name, missing, store)).status_code == 404
    assert fake_openai.requests == []


def test_an_outsider_gets_the_apis_404_from_the_upload_endpoint(django_user_model, credential, store, fake_openai):
    client = logged_in(staff(django_user_model, "outsider", "view_credential", "change_credential"))
    response = client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": [text_file("a.txt", b"text", "text/plain")]},
    )
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Credential not found.",
        "message": "Credential not found.",
        "code": "credential_not_found",
    }
    assert fake_openai.requests_to("POST", "/files") == []


def test_membership_of_one_of_the_credentials_groups_grants_access(django_user_model, credential, store):
    member = staff(django_user_model, "member", "view_credential")
    group = Group.objects.create(name="support")
    member.groups.add(group)
    credential.groups.add(group)
    assert logged_in(member).get(console_url("vector_stores", credential)).status_code == 200


def test_an_inactive_superuser_is_sent_to_the_login(django_user_model, credential, store):
    superuser = django_user_model.objects.create_superuser("inactive", password="x", is_active=False)
    client = Client()
    client.force_login(superuser)
    assert client.get(console_url("vector_stores", credential)).status_code == 302


def test_viewers_browse_but_cannot_change_anything(viewer, credential, store, files, fake_openai):
    client = logged_in(viewer)
    listing = client.get(console_url("vector_stores", credential))
    detail = client.get(console_url("vector_store", credential, store["id"]) + "?q=password")
    assert listing.status_code == detail.status_code == 200
    assert "Add vector store" not in listing.content.decode()
    content = detail.content.decode()
    assert "guide.txt" in content and "Search" in content
    assert 'id="vs-upload-form"' not in content and 'name="file_ids"' not in content
    assert console_url("vector_store_delete", credential, store["id"]) not in content
    for name in ("vector_store_add", "vector_store_change", "vector_store_delete"):
        assert client.get(page_url(name, credential, store)).status_code == 403
        assert client.post(page_url(name, credential, store), {"post": "yes"}).status_code == 403
    removal = client.post(
        console_url("vector_store_remove_files", credential, store["id"]), {"file_ids": [files[0]["id"]], "post": "yes"}
    )
    assert removal.status_code == 403
    upload = client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": [text_file("a.txt", b"text", "text/plain")]},
    )
    assert upload.status_code == 403 and upload.json()["code"] == "permission_denied"
    assert store["id"] in fake_openai.vector_stores
    assert (store["id"], files[0]["id"]) in fake_openai.vector_store_files
    assert fake_openai.requests_to("POST", "/files") == []


# --- the links from the credential's pages ------------------------------------------------------------------


def test_the_changelist_and_change_page_link_to_the_console(admin_client, credential):
    url = console_url("vector_stores", credential)
    changelist = admin_client.get(admin_url("changelist")).content.decode()
    assert f'<a href="{url}">Vector stores</a>' in changelist
    change = admin_client.get(admin_url("change", credential.pk)).content.decode()
    assert re.search(rf'<li><a href="{re.escape(url)}" class="vs-console-link">Vector stores</a></li>', change)
    # Adding a credential: no console yet.
    assert "vs-console-link" not in admin_client.get(admin_url("add")).content.decode()


def test_no_console_link_for_a_credential_the_user_may_not_use(django_user_model, credential, fake_openai):
    other = Credential.objects.create(name="Someone else's", api_key="sk-other-" + "o" * 20)
    client = logged_in(staff(django_user_model, "viewer2", "view_credential", credential=credential))
    changelist = client.get(admin_url("changelist")).content.decode()
    assert console_url("vector_stores", credential) in changelist
    assert console_url("vector_stores", other) not in changelist
    change = client.get(admin_url("change", other.pk)).content.decode()
    assert "vs-console-link" not in change
    # A view-only user sees the masked key, never the key (admin shows read-only fields' values as text).
    assert "sk-…oooo" in change and "sk-other-" + "o" * 20 not in change


# --- the list of vector stores ------------------------------------------------------------------------------


@pytest.fixture
def three_stores(fake_openai):
    beta = fake_openai.create_vector_store(name="Beta notes")
    for status in ("completed", "completed", "failed"):
        file = fake_openai.create_file(f"{status}.txt", b"x" * 2048)
        fake_openai.attach_file(beta["id"], file["id"], status=status)
    alpha = fake_openai.create_vector_store(name="alpha docs")
    gamma = fake_openai.create_vector_store(name="Gamma", expires_after={"anchor": "last_active_at", "days": 30})
    return alpha, beta, gamma


def order_of(content, *names):
    return sorted(names, key=content.index)


def test_the_list_shows_each_store(admin_client, credential, three_stores):
    response = admin_client.get(console_url("vector_stores", credential))
    assert response.status_code == 200
    content = response.content.decode()
    _alpha, _beta, _gamma = three_stores
    for store in three_stores:
        assert store["id"] in content
        assert console_url("vector_store", credential, store["id"]) in content
    assert 'aria-label="Files: 2 completed, 1 failed"' in content
    assert "4.0\xa0KB" in content  # the two completed files' usage
    assert 'aria-label="Files: No files"' in content
    assert "Never" in content  # alpha has no expiry
    # Newest first by default, as OpenAI lists them.
    assert order_of(content, "alpha docs", "Beta notes", "Gamma") == ["Gamma", "alpha docs", "Beta notes"]
    assert "3 vector stores" in content


def test_the_list_sorts_by_any_column_and_searches_names(admin_client, credential, three_stores):
    url = console_url("vector_stores", credential)
    content = admin_client.get(url + "?o=name").content.decode()
    assert order_of(content, "alpha docs", "Beta notes", "Gamma") == ["alpha docs", "Beta notes", "Gamma"]
    assert 'aria-sort="ascending"' in content
    content = admin_client.get(url + "?o=-name").content.decode()
    assert order_of(content, "alpha docs", "Beta notes", "Gamma") == ["Gamma", "Beta notes", "alpha docs"]
    content = admin_client.get(url + "?o=-files").content.decode()
    assert order_of(content, "alpha docs", "Beta notes", "Gamma")[0] == "Beta notes"
    content = admin_client.get(url + "?o=nonsense").content.decode()  # falls back to newest first
    assert order_of(content, "alpha docs", "Beta notes", "Gamma")[0] == "Gamma"
    content = admin_client.get(url + "?q=A%20DOC").content.decode()  # a space: no random id can match
    assert "alpha docs" in content and "Beta notes" not in content and "Gamma" not in content
    assert "1 result (" in content
    content = admin_client.get(url + f"?q={three_stores[2]['id']}").content.decode()
    assert "Gamma" in content and "alpha docs" not in content
    assert "No vector store matches" in admin_client.get(url + "?q=zz%20z").content.decode()


def test_the_list_is_paged(admin_client, credential, three_stores, fake_openai, monkeypatch):
    monkeypatch.setattr(Console, "stores_per_page", 2)
    url = console_url("vector_stores", credential) + "?o=name"
    first = admin_client.get(url).content.decode()
    second = admin_client.get(url + "&p=2").content.decode()
    assert "alpha docs" in first and "Beta notes" in first and "Gamma" not in first
    assert "Gamma" in second and "alpha docs" not in second
    assert 'aria-current="page">2<' in second
    assert "?o=name&amp;p=2" in first


def test_a_full_fetch_says_when_it_is_cut_at_list_max_items(
    admin_client, credential, three_stores, settings, fake_openai
):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 2}
    url = console_url("vector_stores", credential)
    content = admin_client.get(url + "?o=name").content.decode()
    assert note_of(content) == (
        "Sorted by name: every vector store was fetched from OpenAI (up to 2). There are more: only the "
        "newest 2 were fetched (LIST_MAX_ITEMS is 2), so older ones are not in this list."
    )
    assert "vs-list-note-warning" in content
    assert store_names(content) == ["alpha docs", "Gamma"]  # the newest two, sorted; Beta notes is older
    # Paged through OpenAI, the list is not bounded by LIST_MAX_ITEMS: each page is one call.
    fake_openai.requests.clear()
    content = admin_client.get(url).content.decode()
    assert note_of(content) is None and len(store_names(content)) == 3
    assert [request.query for request in list_calls(fake_openai)] == [{"limit": "50", "order": "desc"}]


# --- paging through OpenAI with cursors ---------------------------------------------------------------------


def store_names(content):
    return [html.unescape(name) for name in re.findall(r'class="field-name"><a href="[^"]*">([^<]*)</a>', content)]


def note_of(content):
    match = re.search(r'<p class="vs-list-note[^"]*" id="vs-list-note">([^<]*)</p>', content)
    return html.unescape(match.group(1)) if match else None


def link(content, kind):
    """The href of the pager's first/previous/next link, or None."""
    match = re.search(rf'<a href="([^"]*)"[^>]* class="vs-page-{kind}"', content)
    return html.unescape(match.group(1)) if match else None


def list_calls(fake_openai, path="/vector_stores"):
    return [request for request in fake_openai.requests_to("GET", path) if request.path == path]


@pytest.fixture
def many_stores(fake_openai):
    """120 stores, "Store 000" the oldest and "Store 119" the newest."""
    return [fake_openai.create_vector_store(name=f"Store {index:03}") for index in range(120)]


def names(first, last):
    step = 1 if last >= first else -1
    return [f"Store {index:03}" for index in range(first, last + step, step)]


def test_the_default_list_pages_through_openai_with_cursors(admin_client, credential, many_stores, fake_openai):
    url = console_url("vector_stores", credential)
    ids = {store["name"]: store["id"] for store in many_stores}

    def visit(query):
        fake_openai.requests.clear()
        content = admin_client.get(url + query).content.decode()
        [call] = list_calls(fake_openai)  # one call per page, and no other call to OpenAI
        assert fake_openai.requests == [call]
        assert note_of(content) is None
        return call.query, content

    query, first = visit("")
    assert query == {"limit": "50", "order": "desc"}
    assert store_names(first) == names(119, 70)
    assert link(first, "previous") is None and link(first, "first") is None
    assert link(first, "next") == f"?after={ids['Store 070']}"
    assert "50 vector stores on this page" in first

    query, second = visit(link(first, "next"))
    assert query == {"limit": "50", "order": "desc", "after": ids["Store 070"]}
    assert store_names(second) == names(69, 20)
    assert link(second, "previous") == f"?before={ids['Store 069']}"
    assert link(second, "next") == f"?after={ids['Store 020']}"
    assert link(second, "first") == "?"

    query, third = visit(link(second, "next"))
    assert query == {"limit": "50", "order": "desc", "after": ids["Store 020"]}
    assert store_names(third) == names(19, 0)
    assert link(third, "next") is None
    assert "20 vector stores on this page" in third

    # Back: `before` gives the page just ahead of the cursor, in the same order.
    query, back = visit(link(third, "previous"))
    assert query == {"limit": "50", "order": "desc", "before": ids["Store 019"]}
    assert store_names(back) == names(69, 20)
    assert link(back, "previous") == f"?before={ids['Store 069']}"
    assert link(back, "next") == f"?after={ids['Store 020']}"

    query, start = visit(link(back, "previous"))
    assert query == {"limit": "50", "order": "desc", "before": ids["Store 069"]}
    assert store_names(start) == names(119, 70)
    assert link(start, "previous") is None  # OpenAI has nothing before it: the first page
    assert link(start, "next") == f"?after={ids['Store 070']}"


def test_oldest_first_pages_through_openai_in_ascending_order(admin_client, credential, many_stores, fake_openai):
    url = console_url("vector_stores", credential)
    ids = {store["name"]: store["id"] for store in many_stores}
    content = admin_client.get(url + "?o=created").content.decode()
    assert [request.query for request in list_calls(fake_openai)] == [{"limit": "50", "order": "asc"}]
    assert store_names(content) == names(0, 49)
    assert 'aria-sort="ascending"' in content
    assert link(content, "next") == f"?o=created&after={ids['Store 049']}"
    fake_openai.requests.clear()
    content = admin_client.get(url + link(content, "next")).content.decode()
    assert [request.query for request in list_calls(fake_openai)] == [
        {"limit": "50", "order": "asc", "after": ids["Store 049"]}
    ]
    assert store_names(content) == names(50, 99)
    # Sorting again starts at the first page: the headers drop the cursor.
    assert 'href="?o=-created"' in content and 'href="?o=name"' in content


def test_the_only_page_counts_every_store(admin_client, credential, three_stores, fake_openai):
    content = admin_client.get(console_url("vector_stores", credential)).content.decode()
    assert "3 vector stores" in content and "on this page" not in content
    assert link(content, "next") is None and link(content, "previous") is None


@pytest.mark.parametrize(
    "order, phrase",
    [
        ("name", "Sorted by name"),
        ("-size", "Sorted by size"),
        ("status", "Sorted by status"),
        ("-files", "Sorted by files"),
        ("last_active", "Sorted by last activity"),
        ("expires", "Sorted by expiry"),
        ("id", "Sorted by ID"),
    ],
)
def test_a_sort_openai_cannot_do_fetches_every_store(admin_client, credential, many_stores, fake_openai, order, phrase):
    url = console_url("vector_stores", credential)
    content = admin_client.get(url + f"?o={order}").content.decode()
    calls = list_calls(fake_openai)
    # Every store, 100 at a time (OpenAI's largest page), in OpenAI's own order.
    assert [call.query for call in calls] == [{"limit": "100"}, {"limit": "100", "after": many_stores[20]["id"]}]
    assert note_of(content) == f"{phrase}: every vector store was fetched from OpenAI (up to 10,000)."
    assert 'aria-describedby="vs-list-note"' in content
    assert "120 vector stores" in content and len(store_names(content)) == 50
    assert link(content, "next") is None  # numbered pages instead
    assert f"?o={order}&amp;p=3" in content


def test_sorting_by_name_pages_locally(admin_client, credential, many_stores, fake_openai):
    url = console_url("vector_stores", credential)
    content = admin_client.get(url + "?o=-name&p=2").content.decode()
    assert store_names(content) == names(69, 20)
    assert 'aria-current="page">2<' in content
    assert len(list_calls(fake_openai)) == 2


def test_a_search_fetches_every_store(admin_client, credential, many_stores, fake_openai):
    url = console_url("vector_stores", credential)
    content = admin_client.get(url + "?q=store 11").content.decode()
    assert len(list_calls(fake_openai)) == 2
    assert note_of(content) == "Searched by name or id: every vector store was fetched from OpenAI (up to 10,000)."
    assert store_names(content) == [
        "Store 119",
        "Store 118",
        "Store 117",
        "Store 116",
        "Store 115",
        "Store 114",
        "Store 113",
        "Store 112",
        "Store 111",
        "Store 110",
    ]
    assert "10 results (" in content and "120 total" in content
    fake_openai.requests.clear()
    content = admin_client.get(url + "?q=store 11&o=name").content.decode()
    assert note_of(content) == (
        "Searched by name or id and sorted by name: every vector store was fetched from OpenAI (up to 10,000)."
    )
    assert store_names(content)[:2] == ["Store 110", "Store 111"]


def test_a_search_for_a_whole_store_id_retrieves_just_that_store(admin_client, credential, many_stores, fake_openai):
    url = console_url("vector_stores", credential)
    wanted = many_stores[7]
    content = admin_client.get(url, {"q": wanted["id"]}).content.decode()
    assert store_names(content) == ["Store 007"]
    assert [request.path for request in fake_openai.requests] == [f"/vector_stores/{wanted['id']}"]
    assert note_of(content) == "Found by its id: this vector store was retrieved from OpenAI by itself."
    assert "1 result (" in content
    # No store has that id: names and ids are searched, in every store.
    fake_openai.requests.clear()
    content = admin_client.get(url, {"q": "vs_nothing"}).content.decode()
    assert [request.path for request in fake_openai.requests] == ["/vector_stores/vs_nothing"] + ["/vector_stores"] * 2
    assert "No vector store matches “vs_nothing”." in content
    # Part of an id, or an id in other letter case: found by the search, as before.
    fake_openai.requests.clear()
    content = admin_client.get(url, {"q": wanted["id"][3:12]}).content.decode()
    assert "Store 007" in store_names(content)
    assert [request.path for request in fake_openai.requests] == ["/vector_stores"] * 2
    content = admin_client.get(url, {"q": wanted["id"].upper().replace("VS_", "vs_")}).content.decode()
    assert store_names(content) == ["Store 007"]


@pytest.mark.parametrize(
    "query",
    [
        {"after": "vs_x y"},
        {"after": "vs_abc\n"},
        {"before": "<script>"},
        {"before": "a" * 129},
        {"after": "../files"},
        {"after": "vs_one", "before": "vs_two"},
        {"before": "vs_\x00"},
    ],
)
def test_a_bad_cursor_never_reaches_openai(admin_client, credential, many_stores, fake_openai, query):
    response = admin_client.get(console_url("vector_stores", credential), query)
    assert response.status_code == 200
    assert [request.query for request in fake_openai.requests] == [{"limit": "50", "order": "desc"}]
    assert store_names(response.content.decode()) == names(119, 70)  # the first page
    assert (constants.WARNING, "That page link is not valid, so the first page is shown.") in messages_of(response)


def test_a_cursor_openai_does_not_know(admin_client, credential, many_stores, fake_openai):
    response = admin_client.get(console_url("vector_stores", credential), {"after": "vs_gone"})
    content = response.content.decode()
    errors = [text for level, text in messages_of(response) if level == constants.ERROR]
    assert errors and errors[0].startswith("The vector stores could not be listed: ")
    assert "No vector stores on this page." in content and link(content, "first") == "?"


def test_an_empty_list_offers_to_add_one(admin_client, credential):
    content = admin_client.get(console_url("vector_stores", credential)).content.decode()
    assert "This credential holds no vector stores yet." in content
    assert console_url("vector_store_add", credential) in content


# --- create -------------------------------------------------------------------------------------------------


def create_data(**changes):
    data = {
        "name": "Product docs",
        "description": "Manuals",
        "expiry_days": "30",
        "file_ids": "",
        "chunking": "auto",
        "max_chunk_size_tokens": "800",
        "chunk_overlap_tokens": "400",
        "metadata-TOTAL_FORMS": "2",
        "metadata-INITIAL_FORMS": "0",
        "metadata-MIN_NUM_FORMS": "0",
        "metadata-MAX_NUM_FORMS": str(METADATA_MAX_PAIRS),
        "metadata-0-key": "team",
        "metadata-0-value": "support",
        "metadata-1-key": "",
        "metadata-1-value": "",
    }
    return {**data, **changes}


def test_the_add_form_carries_the_apis_bounds(admin_client, credential):
    content = admin_client.get(console_url("vector_store_add", credential)).content.decode()
    assert f'min="{EXPIRY_DAYS[0]}"' in content and f'max="{EXPIRY_DAYS[1]}"' in content
    assert f'min="{MAX_CHUNK_SIZE_TOKENS[0]}"' in content and f'max="{MAX_CHUNK_SIZE_TOKENS[1]}"' in content
    assert f'maxlength="{METADATA_KEY_MAX_LENGTH}"' in content
    for field in (
        "id_name",
        "id_description",
        "id_expiry_days",
        "id_metadata-0-key",
        "id_metadata-0-value",
        "id_file_ids",
        "id_chunking_0",
        "id_chunking_1",
        "id_max_chunk_size_tokens",
        "id_chunk_overlap_tokens",
    ):
        assert f'for="{field}"' in content, field


def test_creating_a_store(admin_client, admin_user, credential, fake_openai):
    response = admin_client.post(console_url("vector_store_add", credential), create_data())
    [store] = fake_openai.vector_stores.values()
    assert response.status_code == 302
    assert response.url == console_url("vector_store", credential, store["id"])
    [request] = fake_openai.requests_to("POST", "/vector_stores")
    assert request.json == {
        "name": "Product docs",
        "description": "Manuals",
        "metadata": {"team": "support"},
        "expires_after": {"anchor": "last_active_at", "days": 30},
    }
    assert log_messages(credential) == [f"Created vector store {store['id']} 'Product docs'."]
    entry = LogEntry.objects.get()
    assert entry.user == admin_user and entry.is_change() and entry.object_repr == credential.name
    page = admin_client.get(response.url)
    assert (constants.SUCCESS, f"The vector store {store['id']} 'Product docs' was created.") in messages_of(page)


def test_creating_a_store_with_files_and_a_static_chunking_strategy(admin_client, credential, fake_openai):
    file = fake_openai.create_file("a.txt", b"content")
    data = create_data(
        file_ids=f" {file['id']}\n",
        chunking="static",
        max_chunk_size_tokens="600",
        chunk_overlap_tokens="300",
        expiry_days="",
    )
    assert admin_client.post(console_url("vector_store_add", credential), data).status_code == 302
    [request] = fake_openai.requests_to("POST", "/vector_stores")
    assert request.json["file_ids"] == [file["id"]]
    assert request.json["chunking_strategy"] == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 600, "chunk_overlap_tokens": 300},
    }
    assert "expires_after" not in request.json
    [store] = fake_openai.vector_stores.values()
    assert store["file_counts"]["completed"] == 1


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"expiry_days": str(EXPIRY_DAYS[1] + 1)}, "expiry_days", f"less than or equal to {EXPIRY_DAYS[1]}"),
        ({"expiry_days": "0"}, "expiry_days", f"greater than or equal to {EXPIRY_DAYS[0]}"),
        ({"chunking": "static"}, "chunking", "enter their file ids"),
        (
            {
                "chunking": "static",
                "file_ids": "file-abc",
                "max_chunk_size_tokens": "1000",
                "chunk_overlap_tokens": "501",
            },
            "chunk_overlap_tokens",
            "Must not exceed half of max_chunk_size_tokens.",
        ),
        (
            {"chunking": "static", "file_ids": "file-abc", "max_chunk_size_tokens": str(MAX_CHUNK_SIZE_TOKENS[1] + 1)},
            "max_chunk_size_tokens",
            f"less than or equal to {MAX_CHUNK_SIZE_TOKENS[1]}",
        ),
        (
            {"chunking": "static", "file_ids": "file-abc", "chunk_overlap_tokens": ""},
            "chunk_overlap_tokens",
            "Required for a static chunking strategy.",
        ),
        ({"file_ids": "file-abc file-abc"}, "file_ids", "File ids must be unique."),
        ({"file_ids": "not/an-id"}, "file_ids", "Must be 1 to 128 letters, digits"),
        (
            {"metadata-0-key": "k" * (METADATA_KEY_MAX_LENGTH + 1)},
            "metadata",
            f"at most {METADATA_KEY_MAX_LENGTH} characters",
        ),
        (
            {"metadata-1-key": "team", "metadata-1-value": "other"},
            "metadata",
            "Each key may appear once: &#x27;team&#x27;.",
        ),
        ({"metadata-1-value": "orphan"}, "metadata", "Enter a key for this value."),
        ({"name": "bad\x00name"}, "name", "Null characters are not allowed."),
    ],
)
def test_the_add_form_refuses_what_the_api_refuses(admin_client, credential, fake_openai, changes, field, message):
    response = admin_client.post(console_url("vector_store_add", credential), create_data(**changes))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Please correct the errors below." in content
    assert message in content
    if field != "metadata":
        assert message in " ".join(response.context["form"].errors.get(field, []))
    assert fake_openai.requests_to("POST", "/vector_stores") == []


def test_more_metadata_rows_than_openai_takes_are_refused(admin_client, credential, fake_openai):
    rows = METADATA_MAX_PAIRS + 1
    data = create_data(
        **{"metadata-TOTAL_FORMS": str(rows)},
        **{f"metadata-{i}-key": f"k{i}" for i in range(rows)},
        **{f"metadata-{i}-value": "v" for i in range(rows)},
    )
    response = admin_client.post(console_url("vector_store_add", credential), data)
    assert response.status_code == 200
    assert "Please correct the errors below." in response.content.decode()
    assert fake_openai.requests_to("POST", "/vector_stores") == []


# --- change -------------------------------------------------------------------------------------------------


def change_data(**changes):
    data = {
        "name": "Docs",
        "expiry_days": "7",
        "metadata-TOTAL_FORMS": "2",
        "metadata-INITIAL_FORMS": "1",
        "metadata-MIN_NUM_FORMS": "0",
        "metadata-MAX_NUM_FORMS": str(METADATA_MAX_PAIRS),
        "metadata-0-key": "team",
        "metadata-0-value": "support",
        "metadata-1-key": "",
        "metadata-1-value": "",
    }
    return {**data, **changes}


def test_the_change_form_shows_the_current_values(admin_client, credential, store):
    response = admin_client.get(console_url("vector_store_change", credential, store["id"]))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'value="Docs"' in content and 'value="7"' in content
    assert 'value="team"' in content and 'value="support"' in content


def test_changing_a_store_sends_only_what_changed(admin_client, credential, store, fake_openai):
    response = admin_client.post(
        console_url("vector_store_change", credential, store["id"]), change_data(name="Docs 2", expiry_days="")
    )
    assert response.status_code == 302 and response.url == console_url("vector_store", credential, store["id"])
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}")
    assert request.json == {"name": "Docs 2", "expires_after": None}
    assert fake_openai.vector_stores[store["id"]]["expires_after"] is None
    assert log_messages(credential) == [f"Changed name and expiry of vector store {store['id']} 'Docs 2'."]


def test_changing_metadata_replaces_the_pairs(admin_client, credential, store, fake_openai):
    data = change_data(
        **{"metadata-0-key": "", "metadata-0-value": "", "metadata-1-key": "owner", "metadata-1-value": "Ann"}
    )
    admin_client.post(console_url("vector_store_change", credential, store["id"]), data)
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}")
    assert request.json == {"metadata": {"owner": "Ann"}}
    assert fake_openai.vector_stores[store["id"]]["metadata"] == {"owner": "Ann"}
    assert log_messages(credential) == [f"Changed metadata of vector store {store['id']} 'Docs'."]


def test_saving_without_changes_calls_nothing(admin_client, credential, store, fake_openai):
    response = admin_client.post(
        console_url("vector_store_change", credential, store["id"]), change_data(), follow=True
    )
    assert (constants.INFO, "No fields changed.") in messages_of(response)
    assert fake_openai.requests_to("POST", f"/vector_stores/{store['id']}") == []
    assert log_messages(credential) == []


def test_the_change_form_refuses_what_the_api_refuses(admin_client, credential, store, fake_openai):
    response = admin_client.post(
        console_url("vector_store_change", credential, store["id"]), change_data(expiry_days=str(EXPIRY_DAYS[1] + 1))
    )
    assert response.status_code == 200 and "expiry_days" in response.context["form"].errors
    assert fake_openai.requests_to("POST", f"/vector_stores/{store['id']}") == []


# --- delete -------------------------------------------------------------------------------------------------


def test_deleting_a_store_asks_first(admin_client, credential, store, files, fake_openai):
    url = console_url("vector_store_delete", credential, store["id"])
    confirmation = admin_client.get(url)
    assert confirmation.status_code == 200
    content = confirmation.content.decode()
    assert "Are you sure you want to delete the vector store" in content and store["id"] in content
    assert "Files: 2 (1 completed, 1 failed)" in content
    assert store["id"] in fake_openai.vector_stores

    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302 and response.url == console_url("vector_stores", credential)
    assert store["id"] not in fake_openai.vector_stores
    assert {files[0]["id"], files[1]["id"]} <= set(fake_openai.files)  # the files themselves stay
    assert log_messages(credential) == [f"Deleted vector store {store['id']} 'Docs'."]
    listing = admin_client.get(response.url)
    assert (constants.SUCCESS, f"The vector store {store['id']} 'Docs' was deleted.") in messages_of(listing)


def test_deleting_a_store_with_its_files(admin_client, credential, store, files, fake_openai):
    response = admin_client.post(
        console_url("vector_store_delete", credential, store["id"]), {"post": "yes", "delete_files": "on"}, follow=True
    )
    assert (constants.SUCCESS, f"The vector store {store['id']} 'Docs' was deleted with its 2 files.") in messages_of(
        response
    )
    assert store["id"] not in fake_openai.vector_stores
    assert not {files[0]["id"], files[1]["id"]} & set(fake_openai.files)
    removal, deletion = log_messages(credential)
    assert removal.startswith(f"Removed 2 files from vector store {store['id']} 'Docs': ")
    assert "Deleted from OpenAI" in removal
    assert deletion == f"Deleted vector store {store['id']} 'Docs'."


# --- a store's page -----------------------------------------------------------------------------------------


def test_the_store_page_lists_its_files_with_names_from_the_files_api(
    admin_client, credential, store, files, fake_openai
):
    fake_openai.requests.clear()
    response = admin_client.get(console_url("vector_store", credential, store["id"]))
    assert response.status_code == 200
    content = response.content.decode()
    guide, broken = files
    for file in files:
        assert file["id"] in content and file["filename"] in content
    assert "Seeded failure." in content  # the failed file's last error
    assert f"{guide['bytes']}\xa0bytes" in content
    assert 'role="progressbar"' in content and 'aria-valuenow="0"' in content and 'aria-live="polite"' in content
    retrieved = {request.path for request in fake_openai.requests_to("GET", "/files/")}
    assert retrieved == {f"/files/{guide['id']}", f"/files/{broken['id']}"}
    assert "Docs" in content and "team" in content and "support" in content


def test_the_store_page_filters_files_by_status(admin_client, credential, store, files, fake_openai):
    content = admin_client.get(console_url("vector_store", credential, store["id"]) + "?status=failed").content.decode()
    assert "broken.pdf" in content and "guide.txt" not in content
    [listing] = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/files")
    assert listing.query == {"limit": "50", "order": "desc", "filter": "failed"}


def test_the_store_page_pages_its_files(admin_client, credential, store, files, fake_openai, monkeypatch):
    monkeypatch.setattr(Console, "files_per_page", 1)
    fake_openai.requests.clear()
    content = admin_client.get(console_url("vector_store", credential, store["id"])).content.decode()
    assert "2 files" in content  # the store's file counts
    assert len(fake_openai.requests_to("GET", "/files/")) == 1  # names only for the page shown
    [listing] = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/files")
    assert listing.query == {"limit": "1", "order": "desc"}


def test_the_store_page_pages_its_files_through_openai(admin_client, credential, store, fake_openai, monkeypatch):
    monkeypatch.setattr(Console, "files_per_page", 2)
    added = []
    for index in range(5):
        file = fake_openai.create_file(f"file-{index}.txt", b"text")
        fake_openai.attach_file(store["id"], file["id"], status="failed" if index == 1 else "completed")
        added.append(file["id"])
    url = console_url("vector_store", credential, store["id"])
    files_path = f"/vector_stores/{store['id']}/files"

    def visit(query):
        fake_openai.requests.clear()
        content = admin_client.get(url + query).content.decode()
        [call] = list_calls(fake_openai, files_path)
        return call.query, content, re.findall(r'name="file_ids" value="([^"]+)"', content)

    query, content, shown = visit("")
    assert query == {"limit": "2", "order": "desc"}
    assert shown == [added[4], added[3]] and "5 files" in content
    assert link(content, "previous") is None and link(content, "next") == f"?after={added[3]}#files"
    query, content, shown = visit(link(content, "next"))
    assert query == {"limit": "2", "order": "desc", "after": added[3]}
    assert shown == [added[2], added[1]]
    assert link(content, "previous") == f"?before={added[2]}#files"
    query, content, shown = visit(link(content, "next"))
    assert shown == [added[0]] and link(content, "next") is None
    query, content, shown = visit(link(content, "previous"))
    assert query == {"limit": "2", "order": "desc", "before": added[0]}
    assert shown == [added[2], added[1]]
    # The status filter goes to OpenAI, and a new filter starts at the first page.
    assert '<a href="?status=failed#files">Failed</a>' in content
    query, content, shown = visit("?status=completed")
    assert query == {"limit": "2", "order": "desc", "filter": "completed"}
    assert shown == [added[4], added[3]] and "4 files" in content
    assert link(content, "next") == f"?status=completed&after={added[3]}#files"
    # A bad cursor never reaches OpenAI.
    query, content, shown = visit("?after=no%20such%20id")
    assert query == {"limit": "2", "order": "desc"}


def test_a_file_missing_from_the_files_api_or_unreadable(admin_client, credential, store, files, fake_openai):
    guide, broken = files
    fake_openai.fail("GET", f"/files/{guide['id']}", 404)
    fake_openai.fail("GET", f"/files/{broken['id']}", 500)
    response = admin_client.get(console_url("vector_store", credential, store["id"]))
    assert response.status_code == 200
    assert "Not found among the OpenAI files." in response.content.decode()
    [(level, text)] = messages_of(response)
    assert level == constants.WARNING and text.startswith("The name of 1 file could not be read: OpenAI failed (500)")


def test_a_store_that_is_gone_sends_back_to_the_list(admin_client, credential, fake_openai):
    response = admin_client.get(console_url("vector_store", credential, "vs_gone"), follow=True)
    assert response.redirect_chain == [(console_url("vector_stores", credential), 302)]
    assert (
        constants.ERROR,
        "The vector store vs_gone could not be read: No vector store found with id 'vs_gone'.",
    ) in messages_of(response)


def test_an_invalid_store_id_never_reaches_openai(admin_client, credential, fake_openai):
    # Not a console URL: admin's own handling of an unknown object (a redirect with a message).
    for suffix in ("bad%20id!/", "bad%20id!/delete/", "x" * 129 + "/"):
        response = admin_client.get(console_url("vector_stores", credential) + suffix, follow=True)
        assert response.status_code == 200
    assert fake_openai.requests == []


# --- removing files -----------------------------------------------------------------------------------------


def test_removing_files_asks_then_detaches_them(admin_client, credential, store, files, fake_openai):
    guide, _broken = files
    url = console_url("vector_store_remove_files", credential, store["id"])
    confirmation = admin_client.post(url, {"file_ids": [guide["id"]]})
    assert confirmation.status_code == 200
    content = confirmation.content.decode()
    assert "Are you sure you want to remove the selected file from the vector store" in content
    assert f"guide.txt ({guide['id']})" in content
    assert (store["id"], guide["id"]) in fake_openai.vector_store_files

    response = admin_client.post(url, {"file_ids": [guide["id"]], "post": "yes"})
    assert response.status_code == 302 and response.url == console_url("vector_store", credential, store["id"])
    assert (store["id"], guide["id"]) not in fake_openai.vector_store_files
    assert guide["id"] in fake_openai.files  # only detached
    assert log_messages(credential) == [f"Removed 1 file from vector store {store['id']} 'Docs': {guide['id']}."]


def test_removing_files_and_deleting_them_from_openai(admin_client, credential, store, files, fake_openai):
    ids = [file["id"] for file in files]
    response = admin_client.post(
        console_url("vector_store_remove_files", credential, store["id"]),
        {"file_ids": ids, "post": "yes", "delete_files": "on"},
        follow=True,
    )
    assert not set(ids) & set(fake_openai.files)
    [message] = log_messages(credential)
    assert message.startswith(f"Removed 2 files from vector store {store['id']} 'Docs'")
    assert f"Deleted from OpenAI: {', '.join(ids)}." in message
    assert messages_of(response)[0] == (constants.SUCCESS, message)


def test_removing_nothing_or_invalid_ids(admin_client, credential, store, files, fake_openai):
    url = console_url("vector_store_remove_files", credential, store["id"])
    fake_openai.requests.clear()
    nothing = admin_client.post(url, {"post": "yes"}, follow=True)
    assert (
        constants.WARNING,
        "Files must be selected in order to remove them. No files have been removed.",
    ) in messages_of(nothing)
    invalid = admin_client.post(url, {"file_ids": ["bad id"], "post": "yes"}, follow=True)
    assert any(
        level == constants.ERROR and "No files have been removed" in text for level, text in messages_of(invalid)
    )
    assert admin_client.get(url).status_code == 302  # GET: back to the store page
    assert fake_openai.requests_to("DELETE", "/") == []


def test_a_removal_that_partly_fails_says_so_and_logs_what_was_removed(
    admin_client, credential, store, files, fake_openai
):
    guide, broken = files
    fake_openai.fail("DELETE", f"/vector_stores/{store['id']}/files/{broken['id']}", 500)
    response = admin_client.post(
        console_url("vector_store_remove_files", credential, store["id"]),
        {"file_ids": [guide["id"], broken["id"]], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    levels = dict(messages_of(response))
    assert levels[constants.ERROR].startswith(
        "Files could not be removed: 1 of 2 files could not be removed: OpenAI failed (500)"
    )
    assert log_messages(credential) == [f"Removed 1 file from vector store {store['id']} 'Docs': {guide['id']}."]


# --- search -------------------------------------------------------------------------------------------------


def test_searching_shows_ranked_results_with_scores_and_snippets(admin_client, credential, store, files, fake_openai):
    response = admin_client.get(
        console_url("vector_store", credential, store["id"]), {"q": "reset password", "max_results": "5"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "1 result for “reset password”" in content
    assert "guide.txt" in content and "1.0000" in content and "How to reset your password" in content
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/search")
    assert request.json == {"query": "reset password", "max_num_results": 5}


def test_a_search_without_results(admin_client, credential, store, files):
    content = admin_client.get(console_url("vector_store", credential, store["id"]), {"q": "zebra"}).content.decode()
    assert "No results for “zebra”." in content


def test_an_invalid_search_never_reaches_openai(admin_client, credential, store, files, fake_openai):
    for params in ({"q": "   "}, {"q": "x", "max_results": "51"}):
        response = admin_client.get(console_url("vector_store", credential, store["id"]), params)
        assert response.status_code == 200
        assert response.context["search_form"].errors
    assert fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/search") == []


# --- uploads ------------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(admin_user):
    """A client that enforces CSRF, as a browser session is checked."""
    return logged_in(admin_user, enforce_csrf_checks=True)


def csrf_token(client, credential, store):
    page = client.get(console_url("vector_store", credential, store["id"]))
    return page.cookies["csrftoken"].value


def test_uploading_from_the_console(csrf_client, credential, store, fake_openai, upload_dir):
    token = csrf_token(csrf_client, credential, store)
    files = [
        text_file("résumé 日本.txt", b"curriculum vitae", "text/plain"),
        text_file("notes.md", b"# notes", "text/markdown"),
    ]
    response = csrf_client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": files},
        HTTP_X_CSRFTOKEN=token,
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    uploaded = response.json()
    assert sorted(f["filename"] for f in uploaded) == sorted(["notes.md", "résumé 日本.txt"])
    for file in uploaded:
        assert fake_openai.vector_store_files[(store["id"], file["id"])]["status"] == "completed"
    raw = [request.filenames[0] for request in fake_openai.requests_to("POST", "/files")]
    assert "résumé 日本.txt".encode() in raw
    assert list(upload_dir.iterdir()) == []
    [message] = log_messages(credential)
    assert message.startswith(f"Uploaded 2 files to vector store {store['id']}: ")
    assert "résumé 日本.txt" in message
    page = csrf_client.get(console_url("vector_store", credential, store["id"]))
    assert (constants.SUCCESS, message) in messages_of(page)
    assert "résumé 日本.txt" in page.content.decode()
    # The Files are the uploader's, as those of an upload through the API (see tests/ownership).
    records = FileRecord.objects.filter(credential=credential).values_list("file_id", "owner__username")
    assert sorted(records) == sorted((file["id"], "admin") for file in uploaded)


def test_an_upload_passes_the_chunking_strategy_on(csrf_client, credential, store, fake_openai, upload_dir):
    token = csrf_token(csrf_client, credential, store)
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": 500, "chunk_overlap_tokens": 100}}
    response = csrf_client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": [text_file("a.txt", b"text", "text/plain")], "chunking_strategy": json.dumps(strategy)},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    [batch] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")
    assert batch.json["chunking_strategy"] == strategy


def test_an_upload_needs_the_csrf_token(csrf_client, credential, store, fake_openai, upload_dir):
    response = csrf_client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": [text_file("a.txt", b"text", "text/plain")]},
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")
    assert fake_openai.requests_to("POST", "/files") == []


def test_an_anonymous_upload_is_refused(client, credential, store, fake_openai):
    response = client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": [text_file("a.txt", b"text", "text/plain")]},
    )
    assert response.status_code == 403 and response.json()["code"] == "not_authenticated"
    assert fake_openai.requests_to("POST", "/files") == []


@pytest.mark.parametrize(
    "files, fields, status, code, detail",
    [
        ([("virus.exe", b"MZ", "application/octet-stream")], {}, 400, "invalid", "type .exe is not accepted"),
        ([("fake.pdf", b"not a pdf", "application/pdf")], {}, 400, "invalid", "is not a .pdf file"),
        ([("empty.txt", b"", "text/plain")], {}, 400, "invalid", "is empty"),
        ([], {"note": "x"}, 400, "invalid", "Unknown field."),
        ([("a.txt", b"x", "text/plain")], {"chunking_strategy": '{"type": "static"}'}, 400, "invalid", "Required when"),
    ],
)
def test_an_upload_is_checked_like_the_apis(
    csrf_client, credential, store, fake_openai, upload_dir, files, fields, status, code, detail
):
    token = csrf_token(csrf_client, credential, store)
    body = {"files": [text_file(*file) for file in files], **fields}
    response = csrf_client.post(
        console_url("vector_store_upload", credential, store["id"]), body, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == status
    answer = response.json()
    assert answer["code"] == code and detail in answer["detail"]
    assert fake_openai.requests_to("POST", "/files") == []
    assert list(upload_dir.iterdir()) == []
    assert log_messages(credential) == []


def test_an_upload_that_is_not_multipart_is_415(csrf_client, credential, store, fake_openai):
    token = csrf_token(csrf_client, credential, store)
    response = csrf_client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": []},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_a_failed_upload_reports_each_file_in_the_apis_shape(csrf_client, credential, store, fake_openai, upload_dir):
    token = csrf_token(csrf_client, credential, store)
    fake_openai.fail("POST", "/files", 500)
    response = csrf_client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": [text_file("a.txt", b"text", "text/plain")]},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 502
    answer = response.json()
    assert answer["code"] == "openai_server_error"
    assert answer["detail"].startswith("1 of 1 files could not be uploaded: OpenAI failed (500)")
    assert answer["files"][0]["filename"] == "a.txt" and answer["files"][0]["status"] == "upload_failed"
    assert log_messages(credential) == []


# A host site that mounts admin elsewhere, does not mount the API at all, and authenticates its API
# with HTTP Basic only: the console (pages and uploads) needs none of it.
urlpatterns = [path("staff/", admin.site.urls)]


@pytest.mark.urls(__name__)
def test_the_console_needs_neither_the_api_urls_nor_its_authentication(
    admin_user, credential, store, settings, fake_openai, upload_dir
):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"]}
    client = logged_in(admin_user, enforce_csrf_checks=True)
    url = console_url("vector_store", credential, store["id"])
    assert url.startswith("/staff/credentials/credential/")
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": [text_file("a.txt", b"text", "text/plain")]},
        HTTP_X_CSRFTOKEN=page.cookies["csrftoken"].value,
    )
    assert response.status_code == 200 and response.json()[0]["filename"] == "a.txt"
    for name in PAGES:
        assert client.get(page_url(name, credential, store)).status_code == 200


# --- upstream errors: admin messages, never a 500 -----------------------------------------------------------


def test_upstream_errors_become_admin_messages(admin_client, credential, store, files, fake_openai):
    sid = store["id"]
    cases = [
        (
            "GET",
            r"/vector_stores",
            500,
            lambda: admin_client.get(console_url("vector_stores", credential)),
            "The vector stores could not be listed: OpenAI failed (500)",
        ),
        (
            "POST",
            r"/vector_stores",
            400,
            lambda: admin_client.post(console_url("vector_store_add", credential), create_data()),
            "The vector store could not be created: Injected fault: 400 Bad Request.",
        ),
        (
            "POST",
            rf"/vector_stores/{sid}",
            409,
            lambda: admin_client.post(console_url("vector_store_change", credential, sid), change_data(name="New")),
            "The vector store could not be changed: Injected fault: 409 Conflict.",
        ),
        (
            "DELETE",
            rf"/vector_stores/{sid}",
            502,
            lambda: admin_client.post(console_url("vector_store_delete", credential, sid), {"post": "yes"}),
            f"The vector store {sid} 'Docs' could not be deleted: OpenAI failed (502)",
        ),
        (
            "POST",
            rf"/vector_stores/{sid}/search",
            429,
            lambda: admin_client.get(console_url("vector_store", credential, sid), {"q": "password"}),
            "The search failed: Rate limit reached for requests. Please try again later.",
        ),
        (
            "GET",
            rf"/vector_stores/{sid}/files",
            503,
            lambda: admin_client.get(console_url("vector_store", credential, sid)),
            "The files of the vector store could not be listed: OpenAI failed (503)",
        ),
    ]
    for method, route, status, request, expected in cases:
        fake_openai.fail(method, route, status)
        response = request()
        assert response.status_code == 200, expected
        errors = [text for level, text in messages_of(response) if level == constants.ERROR]
        assert any(text.startswith(expected) for text in errors), (expected, errors)
    assert sid in fake_openai.vector_stores
    assert log_messages(credential) == []


def test_a_rejected_key_and_a_lost_connection(admin_client, credential, store, fake_openai):
    fake_openai.api_keys.clear()
    response = admin_client.get(console_url("vector_stores", credential))
    assert (
        constants.ERROR,
        "The vector stores could not be listed: OpenAI rejected the credential's API key.",
    ) in messages_of(response)
    assert TEST_API_KEY[8:-4] not in response.content.decode()
    fake_openai.reset()
    fake_openai.drop("GET", "/vector_stores")
    response = admin_client.get(console_url("vector_stores", credential))
    assert (constants.ERROR, "The vector stores could not be listed: The connection to OpenAI failed.") in messages_of(
        response
    )


def test_a_credential_whose_key_cannot_be_decrypted(admin_client, credential, store, fake_openai, monkeypatch):
    monkeypatch.setattr(Credential, "api_key_readable", property(lambda self: False))
    response = admin_client.get(console_url("vector_stores", credential))
    assert response.status_code == 302
    assert response.url == admin_url("change", credential.pk)
    upload = admin_client.post(
        console_url("vector_store_upload", credential, store["id"]),
        {"files": [text_file("a.txt", b"text", "text/plain")]},
    )
    assert upload.status_code == 503 and upload.json()["code"] == "credential_unreadable"
    assert fake_openai.requests == []


# --- the admin log, and the key -----------------------------------------------------------------------------


def test_the_credentials_history_shows_the_consoles_changes(admin_client, credential, fake_openai):
    admin_client.post(console_url("vector_store_add", credential), create_data())
    history = admin_client.get(admin_url("history", credential.pk))
    assert "Created vector store vs_" in history.content.decode()


def test_the_credentials_history_is_only_for_those_who_may_use_it(django_user_model, credential, fake_openai):
    """It names the stores the console changed and the files it uploaded: the console's own rule applies."""
    history = admin_url("history", credential.pk)
    outsider = staff(django_user_model, "outsider", "view_credential")
    assert logged_in(outsider).get(history).status_code == 403
    credential.users.add(outsider)
    assert logged_in(outsider).get(history).status_code == 200


def test_the_api_key_is_on_no_console_page(admin_client, credential, store, files):
    urls = [page_url(name, credential, store) for name in PAGES]
    urls.append(console_url("vector_store", credential, store["id"]) + "?q=password")
    for url in urls:
        assert not leaked_keys(admin_client.get(url).content.decode())


def test_the_console_is_routed_by_the_credential_admin():
    model_admin = admin.site._registry[Credential]
    assert isinstance(model_admin, CredentialAdmin)
    names = {pattern.name for pattern in model_admin.get_urls()}
    assert {f"credentials_credential_{name}" for name in PAGES} <= names
    assert "credentials_credential_vector_store_upload" in names


# --- the gateway function the console adds ------------------------------------------------------------------


def test_retrieve_files_gets_each_file_and_reports_the_missing(credential, fake_openai):
    first = fake_openai.create_file("a.txt")
    second = fake_openai.create_file("b.txt")
    found = gateway.retrieve_files(credential, [second["id"], first["id"], "file-missing", first["id"]])
    assert list(found) == [second["id"], first["id"], "file-missing"]
    assert found[first["id"]] == fake_openai.files[first["id"]]
    assert isinstance(found["file-missing"], gateway.OpenAINotFound) and found["file-missing"].upstream_status == 404
    assert len(fake_openai.requests_to("GET", "/files/")) == 3
    assert gateway.retrieve_files(credential, []) == {}


@pytest.mark.usefixtures("upload_dir")
def test_an_upload_through_the_console_counts_once_per_file_as_the_apis(
    admin_client, credential, store, fake_openai, throttle_rates
):
    throttle_rates("3/minute")

    def upload(count):
        files = [text_file(f"f{n}.txt", b"text", "text/plain") for n in range(count)]
        return admin_client.post(console_url("vector_store_upload", credential, store["id"]), {"files": files})

    assert upload(4).status_code == 429
    assert fake_openai.requests_to("POST", "/files") == []
    assert upload(2).status_code == 200
    assert upload(1).status_code == 429  # 2 + 1 + 1 past 3


def test_console_pages_count_against_the_users_api_rate(
    admin_client, admin_user, credential, store, fake_openai, throttle_rates
):
    """The console calls OpenAI with the credential's key as the API does: it is no way around the API's rate."""
    throttle_rates("3/minute")
    assert client_for(admin_user).get(api_path(credential.pk)).status_code == 200
    for _ in range(2):
        assert admin_client.get(console_url("vector_stores", credential)).status_code == 200
    fake_openai.requests.clear()

    refused = admin_client.get(console_url("vector_store", credential, store["id"]))
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    assert f"Expected available in {refused['Retry-After']} seconds" in refused.content.decode()
    # The batch page's script polls for JSON (with its Accept header, or ?format=json alone).
    batch_url = console_url("vector_store_batch", credential, store["id"], "vsfb_1")
    for polled in [
        admin_client.get(batch_url, {"format": "json"}),
        admin_client.get(batch_url, HTTP_ACCEPT="application/json"),
    ]:
        assert polled.status_code == 429 and polled.json()["error"].startswith("Request was throttled.")
    assert client_for(admin_user).get(api_path(credential.pk)).status_code == 429
    assert fake_openai.requests == []


REFUSED_FILES = "that many would take you past your request rate (one request per file)."


def test_a_removal_through_the_console_counts_once_per_file_as_the_apis(
    admin_client, credential, store, files, fake_openai, throttle_rates
):
    throttle_rates("2/minute")  # the page, and one for each of its two files, is 3
    ids = [file["id"] for file in files]

    response = admin_client.post(
        console_url("vector_store_remove_files", credential, store["id"]), {"file_ids": ids, "post": "yes"}
    )

    assert response.status_code == 302
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"No files have been removed: {REFUSED_FILES}"
    ]
    assert fake_openai.requests_to("DELETE", "/vector_stores") == []
    assert {key[1] for key in fake_openai.vector_store_files if key[0] == store["id"]} == set(ids)


def test_deleting_a_store_with_more_files_than_the_rate_leaves_it_whole(
    admin_client, credential, store, files, fake_openai, throttle_rates
):
    throttle_rates("2/minute")
    url = console_url("vector_store_delete", credential, store["id"])

    response = admin_client.post(url, {"post": "yes", "delete_files": "on"})

    assert response.status_code == 200
    assert [text for _, text in messages_of(response)] == [
        f"No files have been removed: {REFUSED_FILES}",
        f"The vector store {store['id']} 'Docs' was not deleted.",
    ]
    assert store["id"] in fake_openai.vector_stores and all(file["id"] in fake_openai.files for file in files)


def test_a_page_looks_up_each_files_name_as_one_more_request(
    admin_client, credential, store, files, fake_openai, throttle_rates
):
    """The removal's confirmation names each File it would remove: one OpenAI call per id typed into the form.
    Past the rate, the page is shown without the names, and nothing more is asked of OpenAI."""
    throttle_rates("3/minute")
    ids = [file["id"] for file in files] + ["file-typed1", "file-typed2"]
    fake_openai.requests.clear()

    response = admin_client.post(console_url("vector_store_remove_files", credential, store["id"]), {"file_ids": ids})

    assert response.status_code == 200
    assert messages_of(response) == [(constants.WARNING, f"The files' names were not looked up: {REFUSED_FILES}")]
    assert fake_openai.requests_to("GET", "/files") == []
    assert fake_openai.requests_to("GET", "/vector_stores")  # the store itself, within the page's one request


@pytest.mark.parametrize("read", ["every store, sorted", "a file's content", "every file of a store to delete"])
def test_an_unpaged_read_counts_once_per_upstream_page_as_the_apis(
    admin_client, credential, store, fake_openai, throttle_rates, read
):
    """The page counts once, and each upstream page of its read after the first once more: past the rate
    the read stops (no third page asked for) and the page answers 429; a store to delete is left whole."""
    if read == "every store, sorted":
        for n in range(249):
            fake_openai.create_vector_store(name=f"s{n}")
        page, upstream = console_url("vector_stores", credential) + "?o=name", "/vector_stores"
    elif read == "a file's content":
        file_id = fake_openai.create_file("long.txt", b"x" * 25)["id"]
        fake_openai.attach_file(store["id"], file_id)
        fake_openai.content_page_chars = 10
        page = console_url("vector_store_file", credential, store["id"], file_id)
        upstream = f"/vector_stores/{store['id']}/files/{file_id}/content"
    else:
        for n in range(250):
            fake_openai.attach_file(store["id"], fake_openai.create_file(f"f{n}.txt", b"text")["id"])
        page, upstream = (
            console_url("vector_store_delete", credential, store["id"]),
            f"/vector_stores/{store['id']}/files",
        )
    throttle_rates("3/minute" if read == "a file's content" else "2/minute")  # the file's name is one more

    if read == "every file of a store to delete":
        response = admin_client.post(page, {"post": "yes", "delete_files": "on"})
    else:
        response = admin_client.get(page)

    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 60
    pages = [request for request in fake_openai.requests if request.method == "GET" and request.path == upstream]
    assert len(pages) == 2
    assert store["id"] in fake_openai.vector_stores
    if read == "every file of a store to delete":
        assert len(fake_openai.files) == 250 and fake_openai.requests_to("DELETE", "/") == []


def test_a_throttles_cache_gone_down_during_a_page_is_503(
    admin_client, credential, store, files, fake_openai, monkeypatch
):
    """Counted when it began, the page counts its files' names later: the cache has failed by then."""

    def cache_gone(throttles, calls):
        raise ThrottleUnavailable()

    monkeypatch.setattr(throttling, "charge", cache_gone)
    response = admin_client.get(console_url("vector_store", credential, store["id"]))
    assert response.status_code == 503
    assert "cannot be counted against the rate limit" in response.content.decode()


@pytest.mark.usefixtures("cache_down")
def test_with_the_throttles_cache_down_a_console_page_is_503_before_openai(admin_client, credential, fake_openai):
    response = admin_client.get(console_url("vector_stores", credential))
    assert response.status_code == 503
    assert "cannot be counted against the rate limit" in response.content.decode()
    assert fake_openai.requests == []


@pytest.mark.usefixtures("upload_dir")
def test_the_consoles_changes_are_in_the_audit_trail(admin_client, admin_user, credential, fake_openai):
    """Searching the audit trail by a File's id finds who uploaded, attached, removed or deleted it, whether
    through the API or the console."""
    admin_client.post(console_url("vector_store_add", credential), create_data())
    store = next(iter(fake_openai.vector_stores))
    assert admin_client.post(console_url("vector_store_change", credential, store), change_data()).status_code == 302
    uploaded = admin_client.post(
        console_url("vector_store_upload", credential, store), {"files": [text_file("a.txt", b"text", "text/plain")]}
    ).json()
    file_id = uploaded[0]["id"]
    admin_client.post(
        console_url("vector_store_remove_files", credential, store),
        {"file_ids": [file_id], "post": "yes", "delete_files": "on"},
    )
    admin_client.post(console_url("vector_store_delete", credential, store), {"post": "yes"})

    entries = [
        (entry.username, entry.credential_id, entry.operation, entry.vector_store_id, entry.status_code)
        for entry in AuditEntry.objects.order_by("id")
    ]
    assert entries == [
        ("admin", credential.pk, operation, store, 200)
        for operation in (
            "console_create",
            "console_update",
            "console_upload_files",
            "console_remove_files",
            "console_destroy",
        )
    ]
    assert set(AuditEntry.objects.filter(object_ids__contains=file_id).values_list("operation", flat=True)) == {
        "console_upload_files",
        "console_remove_files",
    }


@pytest.mark.django_db(transaction=True)  # as a request runs: outside the test's own transaction
@pytest.mark.usefixtures("atomic_requests", "upload_dir")
def test_a_failed_console_uploads_records_outlive_its_error_under_atomic_requests(
    admin_client, admin_user, credential, store, fake_openai
):
    """The Files a failed upload leaves at OpenAI stay its uploader's, though its answer is an error (which
    rolls a request transaction back)."""
    fake_openai.failing_filenames = {"bad.txt"}
    fake_openai.fail("DELETE", "/files/.*", 500, times=100)  # its cleanup fails too: both Files stay
    files = [text_file("good.txt", b"text", "text/plain"), text_file("bad.txt", b"text", "text/plain")]

    response = admin_client.post(console_url("vector_store_upload", credential, store["id"]), {"files": files})

    assert response.status_code == 500, response.content
    left = {file["id"] for file in response.json()["files"]}
    assert len(left) == 2 and left <= set(fake_openai.files)
    assert set(FileRecord.objects.filter(owner=admin_user).values_list("file_id", flat=True)) == left
