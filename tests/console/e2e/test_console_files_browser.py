"""A store's files and file batches in a real browser (Chromium, headless) against the live server and the fake
OpenAI: a file's page (its state, the content OpenAI indexed, the attribute editor, removal), attaching existing
files and watching the batch's page follow OpenAI until it is done, cancelling a slow batch, and searching with
an attribute filter. Screenshots land in test-artifacts/e2e/ (40-…); labels and keyboard focus order are checked
as in test_console_browser.py.
"""

import pytest

from tests.console.conftest import set_attributes
from tests.console.e2e.conftest import focus_order, log_in, shoot, unlabelled_controls
from vectorstores.console.views import Console

pytestmark = pytest.mark.django_db(transaction=True)

HANDBOOK = (
    b"# Handbook\n\nWelcome to the support team.\n\nTo reset a customer's password, open Settings, choose "
    b"Security and send the reset link.\n"
)


@pytest.fixture
def fast_polls(monkeypatch):
    """A batch page in progress asks for the batch's state every half second (the live server shares this process)."""
    monkeypatch.setattr(Console, "batch_poll_ms", 500)


def store_page(page, live_server, credential, store):
    page.goto(f"{live_server.url}/admin/credentials/credential/{credential.pk}/vector-stores/{store['id']}/")


def test_a_files_page_its_attributes_and_content(page, live_server, e2e_admin, e2e_credential, fake_openai, artifacts):
    from playwright.sync_api import expect

    store = fake_openai.create_vector_store(name="Support docs")
    handbook = fake_openai.create_file("handbook.md", HANDBOOK)
    fake_openai.attach_file(store["id"], handbook["id"])
    set_attributes(fake_openai, store["id"], handbook["id"], {"team": "support", "year": 2024})
    log_in(page, live_server)
    store_page(page, live_server, e2e_credential, store)

    # From the store's files to the file's page.
    page.locator(".vs-files-table").get_by_role("link", name="handbook.md").click()
    expect(page.locator("h1")).to_have_text("handbook.md")
    expect(page.locator("#vs-file-status")).to_have_text("completed")
    content = page.get_by_role("region", name="Indexed content")
    expect(content).to_contain_text("To reset a customer's password")
    shoot(page, artifacts, "40-file-page", full_page=True)

    # The editor: every control labelled, in reading order from the keyboard.
    assert unlabelled_controls(page, "#vs-attributes-form") == []
    assert focus_order(page, page.get_by_label("Attribute key 1", exact=True), "Save attributes") == [
        "id_attributes-0-key",
        "id_attributes-0-type",
        "id_attributes-0-value",
        "id_attributes-0-DELETE",
        "id_attributes-1-key",
        "id_attributes-1-type",
        "id_attributes-1-value",
        "id_attributes-1-DELETE",
        "id_attributes-2-key",
        "id_attributes-2-type",
        "id_attributes-2-value",
        "Add another attribute",
        "Save attributes",
    ]

    # Change a value, remove an attribute, add two (one from the keyboard), save.
    page.get_by_label("Attribute value 1", exact=True).fill("people")
    page.get_by_label("Remove attribute 2", exact=True).check()
    page.get_by_label("Attribute key 3", exact=True).fill("rating")
    page.get_by_label("Attribute type 3", exact=True).select_option("number")
    page.get_by_label("Attribute value 3", exact=True).fill("4.5")
    page.get_by_role("button", name="Add another attribute").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Attribute key 4", exact=True)).to_be_focused()
    page.keyboard.type("public")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Attribute type 4", exact=True)).to_be_focused()
    page.get_by_label("Attribute type 4", exact=True).select_option("boolean")
    page.keyboard.press("Tab")
    page.keyboard.type("maybe")  # not true or false: refused here, nothing sent
    shoot(page, artifacts, "41-file-attributes-editor")
    page.get_by_role("button", name="Save attributes").click()
    expect(page.locator(".errornote")).to_contain_text("Please correct the errors below.")
    expect(page.locator("#vs-attributes-form .errorlist")).to_contain_text("Enter true or false.")
    assert fake_openai.vector_store_files[(store["id"], handbook["id"])]["attributes"] == {
        "team": "support",
        "year": 2024,
    }
    shoot(page, artifacts, "42-file-attributes-errors")
    page.get_by_label("Attribute value 4", exact=True).fill("true")
    page.get_by_role("button", name="Save attributes").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Changed the attributes of file")
    assert fake_openai.vector_store_files[(store["id"], handbook["id"])]["attributes"] == {
        "team": "people",
        "rating": 4.5,
        "public": True,
    }
    expect(page.get_by_label("Attribute value 2", exact=True)).to_have_value("4.5")
    expect(content).to_contain_text("Welcome to the support team.")
    shoot(page, artifacts, "43-file-attributes-saved")

    # Delete the file: asked first, with "also delete" already checked.
    page.locator(".object-tools").get_by_role("link", name="Delete file").click()
    expect(page.get_by_label("Also delete this file from OpenAI")).to_be_checked()
    shoot(page, artifacts, "44-file-delete-confirmation")
    page.get_by_role("button", name="Yes, I’m sure").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Deleted from OpenAI")
    expect(page.locator("h1")).to_have_text("Support docs")
    assert handbook["id"] not in fake_openai.files


def test_attaching_files_and_following_the_batch(
    page, live_server, e2e_admin, e2e_credential, fake_openai, artifacts, fast_polls
):
    from playwright.sync_api import expect

    store = fake_openai.create_vector_store(name="Support docs")
    loose = [fake_openai.create_file(f"policy-{index}.md", b"# Policy\n" * 50) for index in range(2)]
    fake_openai.batch_processing_time = 3
    log_in(page, live_server)
    store_page(page, live_server, e2e_credential, store)

    attach = page.locator("#vs-attach-form")
    assert unlabelled_controls(page, "#vs-attach-form") == []
    attach.get_by_label("File ids:").fill("\n".join(file["id"] for file in loose))
    attach.get_by_text("Attributes for these files").click()
    attach.get_by_label("Attribute key 1", exact=True).fill("team")
    attach.get_by_label("Attribute value 1", exact=True).fill("support")
    shoot(page, artifacts, "45-attach-form")
    attach.get_by_role("button", name="Attach files").click()

    # The batch's page: in progress, then (without a reload) completed, the live status saying so.
    status = page.get_by_role("status")
    expect(page.locator("h1")).to_contain_text("File batch vsfb_")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Attached 2 files")
    expect(status).to_contain_text("In progress: 0 of 2 files processed")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("button", name="Cancel batch")).to_be_visible()
    page.evaluate("window.notReloaded = true")
    shoot(page, artifacts, "46-batch-in-progress")
    expect(status).to_have_text("Completed: 2 of 2 files processed (2 completed).", timeout=20_000)
    expect(page.get_by_role("button", name="Cancel batch")).to_have_count(0)
    rows = page.locator("#files tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#files")).not_to_contain_text("in_progress")
    expect(page.locator("#vs-batch-summary")).to_contain_text("2 completed")
    assert page.evaluate("window.notReloaded") is True  # updated in place
    shoot(page, artifacts, "47-batch-completed")
    for file in loose:
        assert fake_openai.vector_store_files[(store["id"], file["id"])]["attributes"] == {"team": "support"}

    # Its files link to their pages.
    rows.get_by_role("link", name="policy-0.md").click()
    expect(page.locator("h1")).to_have_text("policy-0.md")


def test_cancelling_a_slow_batch(page, live_server, e2e_admin, e2e_credential, fake_openai, artifacts, fast_polls):
    from playwright.sync_api import expect

    store = fake_openai.create_vector_store(name="Support docs")
    loose = fake_openai.create_file("slow.md", b"# Slow\n")
    fake_openai.batch_processing_time = 120
    log_in(page, live_server)
    store_page(page, live_server, e2e_credential, store)
    page.locator("#vs-attach-form").get_by_label("File ids:").fill(loose["id"])
    page.locator("#vs-attach-form").get_by_role("button", name="Attach files").click()
    expect(page.get_by_role("status")).to_contain_text("In progress: 0 of 1 file processed")
    [batch_id] = fake_openai.file_batches

    # From the keyboard.
    page.get_by_role("button", name="Cancel batch").focus()
    page.keyboard.press("Enter")
    expect(page.locator("ul.messagelist li.success")).to_contain_text(f"Cancelled file batch {batch_id}")
    expect(page.get_by_role("status")).to_have_text("Cancelled: 1 of 1 file processed (1 cancelled).")
    expect(page.get_by_role("button", name="Cancel batch")).to_have_count(0)
    assert fake_openai.file_batches[batch_id]["status"] == "cancelled"
    shoot(page, artifacts, "48-batch-cancelled")
    page.goto(f"{live_server.url}/admin/credentials/credential/{e2e_credential.pk}/history/")
    expect(page.locator("#change-history")).to_contain_text(f"Cancelled file batch {batch_id}")


def test_searching_with_an_attribute_filter(page, live_server, e2e_admin, e2e_credential, fake_openai, artifacts):
    from playwright.sync_api import expect

    store = fake_openai.create_vector_store(name="Support docs")
    for name, team in [("support-faq.md", "support"), ("sales-faq.md", "sales")]:
        file = fake_openai.create_file(name, f"How to reset a password, for the {team} team.".encode())
        fake_openai.attach_file(store["id"], file["id"])
        set_attributes(fake_openai, store["id"], file["id"], {"team": team, "year": 2024})
    log_in(page, live_server)
    store_page(page, live_server, e2e_credential, store)

    search = page.locator("#vs-search-form")
    search.get_by_label("Search the store's content").fill("reset password")
    search.get_by_text("Filter by attribute, minimum score").click()
    assert unlabelled_controls(page, "#vs-search-form") == []
    assert focus_order(page, search.get_by_label("Filter key 1", exact=True), "id_search_score_threshold") == [
        "id_search_filters-0-key",
        "id_search_filters-0-comparison",
        "id_search_filters-0-type",
        "id_search_filters-0-value",
        "Add another filter",
        "id_search_combine_0",
        "id_search_score_threshold",
    ]
    search.get_by_label("Filter key 1", exact=True).fill("team")
    search.get_by_label("Filter value 1", exact=True).fill("support")
    search.get_by_role("button", name="Add another filter").click()
    expect(search.get_by_label("Filter key 2", exact=True)).to_be_focused()
    page.keyboard.type("year")
    search.get_by_label("Filter comparison 2", exact=True).select_option("gte")
    search.get_by_label("Filter type 2", exact=True).select_option("number")
    search.get_by_label("Filter value 2", exact=True).fill("2024")
    shoot(page, artifacts, "49-search-filters")
    search.get_by_role("button", name="Search").click()

    results = page.locator("#vs-search-results table tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("support-faq.md")
    expect(page.locator("#vs-search-results caption")).to_contain_text("filtered by attribute")
    expect(page.locator("#vs-search-options")).to_have_attribute("open", "")
    expect(search.get_by_label("Filter value 1", exact=True)).to_have_value("support")
    page.locator("#search").scroll_into_view_if_needed()
    shoot(page, artifacts, "50-search-filtered-results")
    [request] = fake_openai.requests_to("POST", f"/vector_stores/{store['id']}/search")
    assert request.json["filters"] == {
        "type": "and",
        "filters": [{"type": "eq", "key": "team", "value": "support"}, {"type": "gte", "key": "year", "value": 2024}],
    }
