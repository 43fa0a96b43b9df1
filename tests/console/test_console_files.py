"""The console's pages for a store's files and file batches, through Django's test client with the fake OpenAI
behind it: a file's page (state, attributes and their editor, indexed content, removal), attaching existing
files, a batch's progress page with its Cancel button, and search filters by attribute.

For each: who may see and change it (view / change permission, the credential's users), what reached OpenAI,
that an invalid form sends nothing, the credential's history, and OpenAI's errors shown as admin messages.
"""

import html
import re

import pytest
from django.contrib.messages import constants

from credentials.models import Credential
from tests.conftest import leaked_keys, logged_in, messages_of
from tests.console.conftest import console_url, log_messages, set_attributes, staff
from vectorstores.api.serializers import (
    ATTRIBUTE_KEY_MAX_LENGTH,
    ATTRIBUTES_MAX_PAIRS,
    MAX_BATCH_FILES,
)
from vectorstores.console.views import Console
from vectorstores.models import AuditEntry

pytestmark = pytest.mark.django_db

GUIDE_TEXT = "How to reset your password: open the settings page."


@pytest.fixture
def guide(fake_openai, store, files):
    """guide.txt, completed, with attributes."""
    set_attributes(fake_openai, store["id"], files[0]["id"], {"team": "support", "year": 2024, "public": True})
    return files[0]


def file_url(credential, store, file, suffix=""):
    return console_url(
        f"vector_store_file{suffix}", credential, store["id"], file["id"] if isinstance(file, dict) else file
    )


def batch_url(credential, store, batch_id, suffix=""):
    return console_url(f"vector_store_batch{suffix}", credential, store["id"], batch_id)


def attributes_data(*rows, initial=0, deleted=()):
    """The attribute editor's rows as posted: (key, type, value) each; `deleted` are indexes whose Remove is checked."""
    data = {
        "attributes-TOTAL_FORMS": str(len(rows)),
        "attributes-INITIAL_FORMS": str(initial),
        "attributes-MIN_NUM_FORMS": "0",
        "attributes-MAX_NUM_FORMS": str(ATTRIBUTES_MAX_PAIRS),
    }
    for index, (key, kind, value) in enumerate(rows):
        data.update(
            {f"attributes-{index}-key": key, f"attributes-{index}-type": kind, f"attributes-{index}-value": value}
        )
        if index in deleted:
            data[f"attributes-{index}-DELETE"] = "on"
    return data


def attach_data(ids, *rows, **changes):
    """The attach form as posted: the ids' text, attribute rows (key, type, value), and `changes`."""
    data = {
        "file_ids": ids,
        "chunking": "auto",
        "max_chunk_size_tokens": "800",
        "chunk_overlap_tokens": "400",
        **attributes_data(*rows),
    }
    return {**data, **changes}


def filter_data(*rows, **changes):
    """The search form with filter rows (key, comparison, type, value)."""
    data = {
        "q": "password",
        "max_results": "10",
        "combine": "and",
        "score_threshold": "",
        "filters-TOTAL_FORMS": str(len(rows)),
        "filters-INITIAL_FORMS": "0",
        "filters-MIN_NUM_FORMS": "0",
        "filters-MAX_NUM_FORMS": "20",
    }
    for index, (key, comparison, kind, value) in enumerate(rows):
        data.update(
            {
                f"filters-{index}-key": key,
                f"filters-{index}-comparison": comparison,
                f"filters-{index}-type": kind,
                f"filters-{index}-value": value,
            }
        )
    return {**data, **changes}


def batch_ids(fake_openai):
    return list(fake_openai.file_batches)


def changes_sent(fake_openai):
    """Every request that could change something at OpenAI (anything but a GET)."""
    return [(request.method, request.path) for request in fake_openai.requests if request.method != "GET"]


# --- access -------------------------------------------------------------------------------------------------


@pytest.fixture
def batch(fake_openai, store):
    """A file batch still in progress (OpenAI takes a minute), of two new files."""
    fake_openai.batch_processing_time = 60
    first = fake_openai.create_file("first.txt", b"first file")
    second = fake_openai.create_file("second.txt", b"second file")
    with fake_openai.lock:
        created = fake_openai.create_batch(
            store["id"], [(first["id"], {"type": "auto"}, None), (second["id"], {"type": "auto"}, None)]
        )
    return created


def view_pages(credential, store, guide, batch):
    return [
        file_url(credential, store, guide),
        batch_url(credential, store, batch["id"]),
        batch_url(credential, store, batch["id"]) + "?format=json",
    ]


def change_requests(credential, store, guide, batch):
    """(method, url, data) of every request that changes something, or shows a form to."""
    return [
        ("post", file_url(credential, store, guide), attributes_data(("team", "text", "sales"))),
        ("get", file_url(credential, store, guide, "_remove"), None),
        ("post", file_url(credential, store, guide, "_remove"), {"post": "yes", "delete_files": "on"}),
        ("get", console_url("vector_store_attach", credential, store["id"]), None),
        ("post", console_url("vector_store_attach", credential, store["id"]), attach_data(guide["id"])),
        ("post", batch_url(credential, store, batch["id"], "_cancel"), {}),
    ]


def test_anonymous_users_are_sent_to_the_login(client, credential, store, guide, batch, fake_openai):
    fake_openai.requests.clear()
    for method, url, data in change_requests(credential, store, guide, batch):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), url
    for url in view_pages(credential, store, guide, batch):
        assert client.get(url).url.startswith("/admin/login/")
    assert fake_openai.requests == []


def test_staff_without_the_model_permissions_get_403(django_user_model, credential, store, guide, batch, fake_openai):
    client = logged_in(staff(django_user_model, "no-perms", credential=credential))
    fake_openai.requests.clear()
    for url in view_pages(credential, store, guide, batch):
        assert client.get(url).status_code == 403, url
    for method, url, data in change_requests(credential, store, guide, batch):
        assert getattr(client, method)(url, data).status_code == 403, url
    assert fake_openai.requests == []


def test_staff_who_may_not_use_the_credential_get_404(django_user_model, credential, store, guide, batch, fake_openai):
    client = logged_in(staff(django_user_model, "outsider", "view_credential", "change_credential"))
    missing = Credential(pk="00000000-0000-4000-8000-000000000000")
    fake_openai.requests.clear()
    for target in (credential, missing):
        for url in view_pages(target, store, guide, batch):
            assert client.get(url).status_code == 404, url
        for method, url, data in change_requests(target, store, guide, batch):
            assert getattr(client, method)(url, data).status_code == 404, url
    assert fake_openai.requests == []


def test_viewers_see_files_and_batches_but_change_nothing(viewer, credential, store, guide, batch, fake_openai):
    client = logged_in(viewer)
    for url in view_pages(credential, store, guide, batch):
        assert client.get(url).status_code == 200, url
    page = client.get(file_url(credential, store, guide)).content.decode()
    assert 'id="vs-attributes-form"' not in page and "Remove from store" not in page
    assert re.search(r"<dt>team</dt><dd>support <span[^>]*>\(text\)</span></dd>", page)
    assert re.search(r"<dt>year</dt><dd>2024 <span[^>]*>\(number\)</span></dd>", page)
    assert re.search(r"<dt>public</dt><dd>true <span[^>]*>\(true/false\)</span></dd>", page)
    assert "Cancel batch" not in client.get(batch_url(credential, store, batch["id"])).content.decode()
    store_page = client.get(console_url("vector_store", credential, store["id"])).content.decode()
    assert 'id="vs-attach-form"' not in store_page
    fake_openai.requests.clear()
    for method, url, data in change_requests(credential, store, guide, batch):
        assert getattr(client, method)(url, data).status_code == 403, url
    assert fake_openai.requests == []
    assert fake_openai.file_batches[batch["id"]]["status"] == "in_progress"
    assert (store["id"], guide["id"]) in fake_openai.vector_store_files
    assert log_messages(credential) == []


def test_the_new_pages_are_routed_by_the_credential_admin(credential, store, guide):
    root = console_url("vector_store", credential, store["id"])
    assert console_url("vector_store_attach", credential, store["id"]) == f"{root}attach/"
    assert file_url(credential, store, guide) == f"{root}files/{guide['id']}/"
    assert file_url(credential, store, guide, "_remove") == f"{root}files/{guide['id']}/remove/"
    assert batch_url(credential, store, "vsfb_1") == f"{root}batches/vsfb_1/"
    assert batch_url(credential, store, "vsfb_1", "_cancel") == f"{root}batches/vsfb_1/cancel/"


# --- a file's page ------------------------------------------------------------------------------------------


def test_the_store_page_links_each_file_to_its_page(admin_client, credential, store, files):
    content = admin_client.get(console_url("vector_store", credential, store["id"])).content.decode()
    for file in files:
        assert f'<a href="{file_url(credential, store, file)}">{file["filename"]}</a>' in content


def test_a_files_page_shows_its_state_attributes_and_content(admin_client, credential, store, guide, fake_openai):
    fake_openai.requests.clear()
    response = admin_client.get(file_url(credential, store, guide))
    assert response.status_code == 200
    content = response.content.decode()
    assert "<h1>guide.txt</h1>" in content
    assert '<td class="vs-status-completed" id="vs-file-status">completed</td>' in content
    assert f"{guide['bytes']}\xa0bytes" in content  # indexed size and the File's own
    assert "Static: chunks of up to 800 tokens, 400 tokens of overlap" in content
    assert f"<code>{guide['id']}</code>" in content
    assert f'<pre class="vs-content-block">{html.escape(GUIDE_TEXT, quote=False)}</pre>' in content.replace(
        "&#x27;", "'"
    )
    assert "1 piece of text" in content
    form = response.context["form"]
    rows = [(row["key"].value(), row["type"].value(), row["value"].value()) for row in form.attributes]
    assert rows[:3] == [("team", "text", "support"), ("year", "number", "2024"), ("public", "boolean", "true")]
    assert [request.path for request in fake_openai.requests] == [
        f"/vector_stores/{store['id']}",
        f"/vector_stores/{store['id']}/files/{guide['id']}",
        f"/files/{guide['id']}",
        f"/vector_stores/{store['id']}/files/{guide['id']}/content",
    ]
    # Remove and delete both ask first, on the same page.
    assert f'href="{file_url(credential, store, guide, "_remove")}"' in content
    assert f'href="{file_url(credential, store, guide, "_remove")}?delete=1"' in content


def test_a_failed_files_page_shows_its_error_and_reads_no_content(admin_client, credential, store, files, fake_openai):
    broken = files[1]
    fake_openai.requests.clear()
    content = admin_client.get(file_url(credential, store, broken)).content.decode()
    assert '<td id="vs-file-error"><code>server_error</code> Seeded failure.</td>' in content
    assert "The content is shown once OpenAI has processed the file; its status is failed." in content
    assert fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/files/{broken['id']}/content") == []


def test_the_content_is_read_page_by_page_and_says_when_it_was_cut(
    admin_client, credential, store, guide, fake_openai, settings
):
    fake_openai.content_page_chars = 20
    content = admin_client.get(file_url(credential, store, guide)).content.decode()
    reads = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/files/{guide['id']}/content")
    assert len(reads) == 3 and "page" not in reads[0].query and reads[1].query["page"]
    blocks = [html.unescape(block) for block in re.findall(r'<pre class="vs-content-block">([^<]*)</pre>', content)]
    assert "".join(blocks) == GUIDE_TEXT and "vs-content-note" not in content
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "LIST_MAX_ITEMS": 2}
    content = admin_client.get(file_url(credential, store, guide)).content.decode()
    assert len(re.findall(r'<pre class="vs-content-block">', content)) == 1  # one page: a full page holds 100
    assert "only the first 1 pieces were read (LIST_MAX_ITEMS is 2:" in content


def test_a_file_that_is_not_in_the_store_sends_back_to_the_store(admin_client, credential, store, fake_openai):
    other = fake_openai.create_file("elsewhere.txt")
    response = admin_client.get(file_url(credential, store, other), follow=True)
    assert response.redirect_chain == [(console_url("vector_store", credential, store["id"]), 302)]
    [(level, text)] = messages_of(response)
    assert level == constants.ERROR
    assert text == (
        f"The file {other['id']} of vector store {store['id']} 'Docs' could not be read: "
        f"No file found with id '{other['id']}' in vector store '{store['id']}'."
    )


def test_a_files_page_shows_openais_errors_as_messages(admin_client, credential, store, guide, fake_openai):
    fake_openai.fail("GET", rf"/vector_stores/{store['id']}/files/{guide['id']}/content", 500)
    fake_openai.fail("GET", rf"/files/{guide['id']}", 503)
    response = admin_client.get(file_url(credential, store, guide))
    assert response.status_code == 200
    found = messages_of(response)
    assert any(
        level == constants.ERROR
        and text.startswith(f"The indexed content of file {guide['id']} could not be read: OpenAI failed (500)")
        for level, text in found
    )
    assert any(level == constants.WARNING and "could not be read: OpenAI failed (503)" in text for level, text in found)
    assert "The content could not be read." in response.content.decode()


# --- attributes ---------------------------------------------------------------------------------------------


def test_saving_attributes_replaces_them_with_typed_values(editor, credential, store, guide, fake_openai):
    client = logged_in(editor)
    data = attributes_data(
        ("team", "text", "sales"),
        ("year", "number", "2025"),
        ("public", "boolean", "True"),
        ("score", "number", " 1.5 "),
        ("note", "text", "  spaced  "),
        initial=3,
    )
    response = client.post(file_url(credential, store, guide), data)
    assert response.status_code == 302 and response.url == file_url(credential, store, guide)
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/files/{guide['id']}")
    expected = {"team": "sales", "year": 2025, "public": True, "score": 1.5, "note": "  spaced  "}
    assert request.json == {"attributes": expected}
    assert fake_openai.vector_store_files[(store["id"], guide["id"])]["attributes"] == expected
    message = (
        f"Changed the attributes of file {guide['id']} in vector store {store['id']} 'Docs': "
        "team, year, public, score, note."
    )
    assert log_messages(credential) == [message]
    assert (constants.SUCCESS, message) in messages_of(client.get(response.url))


def test_removing_rows_and_clearing_every_attribute(admin_client, credential, store, guide, fake_openai):
    url = file_url(credential, store, guide)
    rows = [("team", "text", "support"), ("year", "number", "2024"), ("public", "boolean", "true")]
    admin_client.post(url, attributes_data(*rows, initial=3, deleted=[1]))
    admin_client.post(
        url, attributes_data(("team", "text", "support"), ("public", "boolean", "true"), initial=2, deleted=[0, 1])
    )
    sent = [request.json for request in fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/files/")]
    assert sent == [{"attributes": {"team": "support", "public": True}}, {"attributes": None}]
    assert fake_openai.vector_store_files[(store["id"], guide["id"])]["attributes"] == {}
    assert (
        log_messages(credential)[-1] == f"Cleared the attributes of file {guide['id']} in vector store "
        f"{store['id']} 'Docs'."
    )


def test_saving_unchanged_attributes_sends_nothing(admin_client, credential, store, guide, fake_openai):
    rows = [("team", "text", "support"), ("year", "number", "2024"), ("public", "boolean", "true"), ("", "text", "")]
    response = admin_client.post(file_url(credential, store, guide), attributes_data(*rows, initial=3), follow=True)
    assert (constants.INFO, "No attributes changed.") in messages_of(response)
    assert changes_sent(fake_openai) == [] and log_messages(credential) == []
    # The same value with another type is a change: 2024 the number is not "2024" the text.
    rows[1] = ("year", "text", "2024")
    admin_client.post(file_url(credential, store, guide), attributes_data(*rows, initial=3))
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/files/{guide['id']}")
    assert request.json["attributes"]["year"] == "2024"


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("year", "number", "soon")], "Enter a number."),
        ([("year", "number", "nan")], "Enter a finite number."),
        ([("public", "boolean", "yes")], "Enter true or false."),
        ([("", "text", "orphan")], "Enter a key for this value."),
        ([("team", "text", "a"), ("team", "text", "b")], "Each key may appear once: &#x27;team&#x27;."),
        ([("k" * (ATTRIBUTE_KEY_MAX_LENGTH + 1), "text", "v")], f"at most {ATTRIBUTE_KEY_MAX_LENGTH} characters"),
        (
            [(f"k{index}", "text", "v") for index in range(ATTRIBUTES_MAX_PAIRS + 1)],
            f"Attributes: At most {ATTRIBUTES_MAX_PAIRS} attributes.",
        ),
        ([("bad", "list", "v")], "Select a valid choice."),
    ],
)
def test_invalid_attributes_never_reach_openai(admin_client, credential, store, guide, fake_openai, rows, message):
    response = admin_client.post(file_url(credential, store, guide), attributes_data(*rows))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Please correct the errors below." in content and message in content
    assert "<title>Error: " in content
    assert changes_sent(fake_openai) == [] and log_messages(credential) == []


def test_an_attribute_update_openai_refuses(admin_client, credential, store, guide, fake_openai):
    fake_openai.fail("POST", rf"/vector_stores/{store['id']}/files/{guide['id']}", 400)
    response = admin_client.post(file_url(credential, store, guide), attributes_data(("team", "text", "sales")))
    assert response.status_code == 200
    assert (constants.ERROR, "The attributes could not be changed: Injected fault: 400 Bad Request.") in messages_of(
        response
    )
    assert response.context["form"].attributes.forms[0]["value"].value() == "sales"  # kept to try again
    assert log_messages(credential) == []


# --- removing and deleting a file ---------------------------------------------------------------------------


def test_removing_a_file_asks_then_detaches_it(admin_client, credential, store, guide, fake_openai):
    url = file_url(credential, store, guide, "_remove")
    confirmation = admin_client.get(url).content.decode()
    assert (
        f"Are you sure you want to remove the file “guide.txt” ({guide['id']}) from the vector store “Docs”?"
        in confirmation
    )
    assert 'name="delete_files"' in confirmation and "checked" not in confirmation
    assert f'href="{file_url(credential, store, guide)}" class="button cancel-link"' in confirmation
    assert "checked" in admin_client.get(url + "?delete=1").content.decode()  # "Delete file" checks the box
    assert changes_sent(fake_openai) == []

    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302 and response.url == console_url("vector_store", credential, store["id"])
    assert (store["id"], guide["id"]) not in fake_openai.vector_store_files and guide["id"] in fake_openai.files
    assert changes_sent(fake_openai) == [("DELETE", f"/vector_stores/{store['id']}/files/{guide['id']}")]
    assert log_messages(credential) == [f"Removed 1 file from vector store {store['id']} 'Docs': {guide['id']}."]


def test_deleting_a_file_detaches_and_deletes_it(admin_client, credential, store, guide, fake_openai):
    response = admin_client.post(
        file_url(credential, store, guide, "_remove"), {"post": "yes", "delete_files": "on"}, follow=True
    )
    assert guide["id"] not in fake_openai.files
    assert changes_sent(fake_openai) == [
        ("DELETE", f"/vector_stores/{store['id']}/files/{guide['id']}"),
        ("DELETE", f"/files/{guide['id']}"),
    ]
    message = (
        f"Removed 1 file from vector store {store['id']} 'Docs': {guide['id']}. Deleted from OpenAI: {guide['id']}."
    )
    assert log_messages(credential) == [message]
    assert (constants.SUCCESS, message) in messages_of(response)


def test_a_removal_openai_refuses(admin_client, credential, store, guide, fake_openai):
    fake_openai.fail("DELETE", rf"/vector_stores/{store['id']}/files/{guide['id']}", 500)
    response = admin_client.post(file_url(credential, store, guide, "_remove"), {"post": "yes"}, follow=True)
    assert any(
        level == constants.ERROR
        and text.startswith("Files could not be removed: 1 of 1 files could not be removed: OpenAI failed (500)")
        for level, text in messages_of(response)
    )
    assert (store["id"], guide["id"]) in fake_openai.vector_store_files
    assert log_messages(credential) == []


# --- attaching existing files -------------------------------------------------------------------------------


@pytest.fixture
def loose_files(fake_openai):
    """Two Files at OpenAI, in no store yet."""
    return [
        fake_openai.create_file("loose-1.txt", b"the first loose file"),
        fake_openai.create_file("loose-2.txt", b"the second loose file"),
    ]


def test_the_store_page_offers_to_attach_files(admin_client, credential, store):
    content = admin_client.get(console_url("vector_store", credential, store["id"])).content.decode()
    assert f'action="{console_url("vector_store_attach", credential, store["id"])}" id="vs-attach-form"' in content
    for field in (
        "id_attach_file_ids",
        "id_attach_attributes-0-key",
        "id_attach_attributes-0-type",
        "id_attach_attributes-0-value",
        "id_attach_chunking_0",
        "id_attach_max_chunk_size_tokens",
    ):
        assert f'for="{field}"' in content, field
    assert f"Up to {MAX_BATCH_FILES:,} ids" in content


def test_attaching_files_creates_a_batch_and_shows_it(admin_client, credential, store, loose_files, fake_openai):
    ids = [file["id"] for file in loose_files]
    data = attach_data(
        f" {ids[0]},\n{ids[1]} ",
        ("team", "text", "support"),
        ("year", "number", "2024"),
        chunking="static",
        max_chunk_size_tokens="600",
        chunk_overlap_tokens="300",
    )
    response = admin_client.post(console_url("vector_store_attach", credential, store["id"]), data)
    [batch_id] = batch_ids(fake_openai)
    assert response.status_code == 302 and response.url == batch_url(credential, store, batch_id)
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")
    shared = {
        "attributes": {"team": "support", "year": 2024},
        "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 600, "chunk_overlap_tokens": 300}},
    }
    assert request.json == {"files": [{"file_id": ids[0], **shared}, {"file_id": ids[1], **shared}]}
    assert fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/file_batches") == []  # not waited for
    message = f"Attached 2 files to vector store {store['id']} 'Docs' in file batch {batch_id}: {ids[0]}, {ids[1]}."
    assert log_messages(credential) == [message]
    page = admin_client.get(response.url)
    assert (constants.SUCCESS, message) in messages_of(page)
    assert "Completed: 2 of 2 files processed (2 completed)." in page.content.decode()
    assert fake_openai.vector_store_files[(store["id"], ids[0])]["attributes"] == shared["attributes"]


def test_attaching_without_attributes_sends_just_the_ids(admin_client, credential, store, loose_files, fake_openai):
    admin_client.post(
        console_url("vector_store_attach", credential, store["id"]), attach_data(loose_files[0]["id"], ("", "text", ""))
    )
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/file_batches")
    assert request.json == {"files": [{"file_id": loose_files[0]["id"]}]}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"file_ids": ""}, "This field is required."),
        ({"file_ids": " , \n"}, "Enter at least one file id."),
        ({"file_ids": "file-ok not/an-id"}, "&#x27;not/an-id&#x27;: Must be 1 to 128 letters, digits"),
        ({"file_ids": "file-a file-a"}, "File ids must be unique."),
        (
            {"file_ids": " ".join(f"file-{index}" for index in range(MAX_BATCH_FILES + 1))},
            f"Ensure this field has no more than {MAX_BATCH_FILES} elements.",
        ),
        (
            {"chunking": "static", "max_chunk_size_tokens": "1000", "chunk_overlap_tokens": "501"},
            "Must not exceed half of max_chunk_size_tokens.",
        ),
        (
            {
                "attributes-TOTAL_FORMS": "1",
                "attributes-0-key": "year",
                "attributes-0-type": "number",
                "attributes-0-value": "next",
            },
            "Enter a number.",
        ),
    ],
)
def test_an_invalid_attach_form_never_reaches_openai(
    admin_client, credential, store, loose_files, fake_openai, changes, message
):
    fake_openai.requests.clear()
    response = admin_client.post(
        console_url("vector_store_attach", credential, store["id"]), attach_data(loose_files[0]["id"], **changes)
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "Please correct the errors below." in content and message in content
    assert fake_openai.requests == [] and log_messages(credential) == []


def test_the_attach_page_on_its_own(admin_client, credential, store, fake_openai):
    fake_openai.requests.clear()
    response = admin_client.get(console_url("vector_store_attach", credential, store["id"]))
    assert response.status_code == 200 and 'id="vs-attach-form"' in response.content.decode()
    assert fake_openai.requests == []


def test_an_attach_openai_refuses(admin_client, credential, store, fake_openai):
    response = admin_client.post(
        console_url("vector_store_attach", credential, store["id"]), attach_data("file-unknown")
    )
    assert response.status_code == 200
    assert (constants.ERROR, "The files could not be attached: File 'file-unknown' not found.") in messages_of(response)
    assert response.context["attach_form"]["file_ids"].value() == "file-unknown"
    assert batch_ids(fake_openai) == [] and log_messages(credential) == []


# --- a batch's page -----------------------------------------------------------------------------------------


def test_a_batch_in_progress(editor, credential, store, batch, fake_openai):
    fake_openai.requests.clear()
    client = logged_in(editor)
    response = client.get(batch_url(credential, store, batch["id"]))
    assert response.status_code == 200
    content = response.content.decode()
    assert f"<h1>File batch {batch['id']}</h1>" in content
    assert (
        'role="status" aria-live="polite" tabindex="-1">In progress: 0 of 2 files processed (2 in progress).' in content
    )
    assert 'aria-label="Files: 2 in progress"' in content
    assert f'data-poll-url="{batch_url(credential, store, batch["id"])}?format=json"' in content
    assert 'data-final="false"' in content and f'data-poll-ms="{Console.batch_poll_ms}"' in content
    assert f'action="{batch_url(credential, store, batch["id"], "_cancel")}"' in content
    assert 'value="Cancel batch"' in content
    for name in ("first.txt", "second.txt"):
        assert name in content
    first_id = fake_openai.batch_file_ids[batch["id"]][0]
    assert f'<a href="{file_url(credential, store, first_id)}">first.txt</a>' in content
    [listing] = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/file_batches/{batch['id']}/files")
    assert listing.query == {"limit": "50", "order": "desc"}


def test_the_batch_pages_state_for_its_script(admin_client, credential, store, batch, fake_openai):
    fake_openai.requests.clear()
    state = admin_client.get(batch_url(credential, store, batch["id"]) + "?format=json").json()
    assert state["status"] == "in_progress" and state["final"] is False
    assert state["status_text"] == "In progress: 0 of 2 files processed (2 in progress)."
    assert 'aria-label="Files: 2 in progress"' in state["counts_html"]
    assert [request.path for request in fake_openai.requests] == [
        f"/vector_stores/{store['id']}/file_batches/{batch['id']}"
    ]  # the batch alone
    fake_openai.fail("GET", rf"/vector_stores/{store['id']}/file_batches/{batch['id']}", 500)
    failed = admin_client.get(batch_url(credential, store, batch["id"]) + "?format=json")
    assert failed.status_code == 502
    assert failed.json()["error"].startswith("The file batch could not be read: OpenAI failed (500)")


def test_cancelling_a_batch(admin_client, credential, store, batch, fake_openai):
    url = batch_url(credential, store, batch["id"], "_cancel")
    assert admin_client.get(url).url == batch_url(credential, store, batch["id"])  # GET changes nothing
    assert changes_sent(fake_openai) == []
    response = admin_client.post(url, follow=True)
    assert response.redirect_chain == [(batch_url(credential, store, batch["id"]), 302)]
    assert changes_sent(fake_openai) == [("POST", f"/vector_stores/{store['id']}/file_batches/{batch['id']}/cancel")]
    assert fake_openai.file_batches[batch["id"]]["status"] == "cancelled"
    message = f"Cancelled file batch {batch['id']} of vector store {store['id']} 'Docs'."
    assert log_messages(credential) == [message]
    assert (constants.SUCCESS, f"{message} Cancelled: 2 of 2 files processed (2 cancelled).") in messages_of(response)
    content = response.content.decode()
    assert 'data-final="true"' in content and "Cancel batch" not in content


def test_a_cancel_openai_refuses(admin_client, credential, store, batch, fake_openai):
    fake_openai.fail("POST", rf"/vector_stores/{store['id']}/file_batches/{batch['id']}/cancel", 409)
    response = admin_client.post(batch_url(credential, store, batch["id"], "_cancel"), follow=True)
    assert (
        constants.ERROR,
        f"The file batch {batch['id']} could not be cancelled: Injected fault: 409 Conflict.",
    ) in messages_of(response)
    assert log_messages(credential) == []


def test_a_batch_that_does_not_exist(admin_client, credential, store, fake_openai):
    response = admin_client.get(batch_url(credential, store, "vsfb_missing"), follow=True)
    assert response.redirect_chain == [(console_url("vector_store", credential, store["id"]), 302)]
    expected = (
        f"The file batch vsfb_missing could not be read: No file batch found with id 'vsfb_missing' in "
        f"vector store '{store['id']}'."
    )
    assert (constants.ERROR, expected) in messages_of(response)


def test_a_batchs_files_are_paged_like_a_stores(admin_client, credential, store, batch, fake_openai, monkeypatch):
    monkeypatch.setattr(Console, "files_per_page", 1)
    url = batch_url(credential, store, batch["id"])
    _, second_id = fake_openai.batch_file_ids[batch["id"]]
    content = admin_client.get(url).content.decode()
    assert "second.txt" in content and "first.txt" not in content and "2 files" in content
    following = html.unescape(re.search(r'<a href="([^"]*)"[^>]* class="vs-page-next"', content).group(1))
    assert following == f"?after={second_id}#files"
    fake_openai.requests.clear()
    content = admin_client.get(url + following.split("#")[0]).content.decode()
    assert "first.txt" in content and "second.txt" not in content
    [listing] = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}/file_batches/{batch['id']}/files")
    assert listing.query == {"limit": "1", "order": "desc", "after": second_id}
    content = admin_client.get(url + "?status=completed").content.decode()
    assert "No completed files." in content


# --- search filters by attribute ----------------------------------------------------------------------------


@pytest.fixture
def tagged(fake_openai, store):
    """Three files that all mention passwords, with different attributes."""
    made = {}
    for name, attributes in [
        ("support.txt", {"team": "support", "year": 2024, "public": True}),
        ("sales.txt", {"team": "sales", "year": 2023, "public": False}),
        ("legal.txt", {"team": "legal", "year": 2025, "public": True}),
    ]:
        file = fake_openai.create_file(name, f"Password rules of {name}".encode())
        fake_openai.attach_file(store["id"], file["id"])
        set_attributes(fake_openai, store["id"], file["id"], attributes)
        made[name] = file
    return made


def search(client, credential, store, data):
    return client.get(console_url("vector_store", credential, store["id"]), data)


def result_names(content):
    return re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a>', content)


def test_searching_with_one_attribute_filter(admin_client, credential, store, tagged, fake_openai):
    response = search(admin_client, credential, store, filter_data(("team", "eq", "text", "support")))
    content = response.content.decode()
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/search")
    assert request.json == {
        "query": "password",
        "max_num_results": 10,
        "filters": {"type": "eq", "key": "team", "value": "support"},
    }
    assert result_names(content) == ["support.txt"]
    assert "1 result for “password”, filtered by attribute" in content
    assert "<dt>team</dt><dd>support</dd>" in content  # each result's attributes
    assert 'id="vs-search-options" open' in content


def test_searching_with_typed_filters_combined(admin_client, credential, store, tagged, fake_openai):
    rows = [("year", "gte", "number", "2024"), ("public", "eq", "boolean", "false")]
    content = search(
        admin_client, credential, store, filter_data(*rows, combine="or", score_threshold="0.5")
    ).content.decode()
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/search")
    assert request.json["filters"] == {
        "type": "or",
        "filters": [{"type": "gte", "key": "year", "value": 2024}, {"type": "eq", "key": "public", "value": False}],
    }
    assert request.json["ranking_options"] == {"score_threshold": 0.5}
    assert sorted(result_names(content)) == ["legal.txt", "sales.txt", "support.txt"]
    fake_openai.requests.clear()
    content = search(admin_client, credential, store, filter_data(*rows, combine="and")).content.decode()
    assert result_names(content) == []
    assert "No results for “password”." in content


def test_blank_filter_rows_are_left_out(admin_client, credential, store, tagged, fake_openai):
    search(admin_client, credential, store, filter_data(("", "eq", "text", "")))
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/search")
    assert request.json == {"query": "password", "max_num_results": 10}


@pytest.mark.parametrize(
    "rows, changes, message",
    [
        ([("year", "gt", "number", "recent")], {}, "Enter a number."),
        ([("public", "eq", "boolean", "maybe")], {}, "Enter true or false."),
        ([("", "eq", "text", "support")], {}, "Enter a key for this value."),
        ([("team", "in", "text", "support")], {}, "Select a valid choice."),
        ([], {"score_threshold": "1.5"}, "less than or equal to 1"),
    ],
)
def test_an_invalid_filter_never_reaches_openai(
    admin_client, credential, store, tagged, fake_openai, rows, changes, message
):
    response = search(admin_client, credential, store, filter_data(*rows, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["results"] is None
    assert fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/search") == []


# --- the key, and the history -------------------------------------------------------------------------------


def test_the_api_key_is_on_none_of_these_pages(admin_client, credential, store, guide, batch):
    urls = [
        *view_pages(credential, store, guide, batch),
        file_url(credential, store, guide, "_remove"),
        console_url("vector_store_attach", credential, store["id"]),
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200 and not leaked_keys(response.content.decode()), url


def test_the_credentials_history_lists_every_change(admin_client, credential, store, guide, loose_files, fake_openai):
    admin_client.post(file_url(credential, store, guide), attributes_data(("team", "text", "sales")))
    admin_client.post(console_url("vector_store_attach", credential, store["id"]), attach_data(loose_files[0]["id"]))
    fake_openai.batch_processing_time = 60
    admin_client.post(console_url("vector_store_attach", credential, store["id"]), attach_data(loose_files[1]["id"]))
    slow = batch_ids(fake_openai)[-1]
    admin_client.post(batch_url(credential, store, slow, "_cancel"))
    admin_client.post(file_url(credential, store, guide, "_remove"), {"post": "yes"})
    history = admin_client.get(console_url("history", credential)).content.decode()
    for text in (
        "Changed the attributes of file",
        "Attached 1 file to vector store",
        "Cancelled file batch",
        "Removed 1 file from vector store",
    ):
        assert text in history, text
    assert len(log_messages(credential)) == 5


def test_the_consoles_changes_to_files_and_batches_are_in_the_audit_trail(
    admin_client, credential, store, guide, batch, loose_files
):
    requests = [
        (file_url(credential, store, guide), attributes_data(("team", "text", "sales"))),
        (console_url("vector_store_attach", credential, store["id"]), attach_data(loose_files[0]["id"])),
        (batch_url(credential, store, batch["id"], "_cancel"), {}),
        (file_url(credential, store, guide, "_remove"), {"post": "yes", "delete_files": "on"}),
    ]
    for url, data in requests:
        assert admin_client.post(url, data).status_code == 302, url

    entries = list(AuditEntry.objects.order_by("id").values_list("operation", "vector_store_id", "object_ids"))
    [attached] = [entry for entry in entries if entry[0] == "console_attach_files"]
    assert attached[2].startswith(loose_files[0]["id"] + " vsfb_")
    assert [entry for entry in entries if entry[0] != "console_attach_files"] == [
        ("console_update_file", store["id"], guide["id"]),
        ("console_cancel_batch", store["id"], batch["id"]),
        ("console_remove_files", store["id"], guide["id"]),
    ]
