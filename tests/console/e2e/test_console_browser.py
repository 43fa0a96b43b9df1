"""The vector store console in a real browser (Chromium, headless) against the live server and the fake OpenAI.

One flow an admin follows: log in, open a credential, open its console, create a store, upload two
files (one with a non-ASCII name) while the progress bar fills, see them listed, search, remove one,
delete the store. A screenshot of each step lands in test-artifacts/e2e/. Then the keyboard: labels
on every field, the focus order of the create form, and its buttons reachable without a mouse.
"""

import pytest

from tests.console.e2e.conftest import log_in, shoot

pytestmark = pytest.mark.django_db(transaction=True)

NON_ASCII_NAME = "résumé 日本.txt"
RESUME = (
    b"Curriculum vitae. Experience: ten years of support engineering. To reset a password, open "
    b"Settings, choose Security and follow the reset link sent by email. "
) * 400
MANUAL = b"# Manual\n\nThe product manual: installation, configuration and upgrades.\n" * 3000


def seed_other_stores(fake_openai):
    """Two more stores, so the list shows a few rows with files in several states."""
    handbook = fake_openai.create_vector_store(name="Onboarding handbook", metadata={"team": "people"})
    for index, status in enumerate(["completed"] * 5 + ["in_progress", "failed"]):
        file = fake_openai.create_file(f"handbook-{index}.md", b"# Handbook\n" * (200 * (index + 1)))
        fake_openai.attach_file(handbook["id"], file["id"], status=status)
    fake_openai.create_vector_store(name="Release notes", expires_after={"anchor": "last_active_at", "days": 30})


def test_an_admin_manages_a_vector_store_from_the_console(
    page,
    live_server,
    e2e_admin,
    e2e_credential,
    fake_openai,
    artifacts,
):
    from playwright.sync_api import expect

    seed_other_stores(fake_openai)
    # Slow enough to watch: each file's upload to OpenAI, then the batch's processing.
    fake_openai.upload_delay = 0.8
    fake_openai.batch_processing_time = 0.6

    # Log in, open the credential from the changelist, then its console.
    log_in(page, live_server)
    shoot(page, artifacts, "01-admin-index")
    page.get_by_role("link", name="Credentials", exact=True).first.click()
    expect(page.locator("#result_list").get_by_role("link", name="Vector stores", exact=True)).to_have_count(1)
    page.get_by_role("link", name="Support team key").click()
    expect(page.locator("h2", has_text="Support team key")).to_be_visible()
    shoot(page, artifacts, "02-credential-change-page")
    page.locator(".object-tools").get_by_role("link", name="Vector stores").click()
    expect(page.locator("h1")).to_have_text("Vector stores")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    shoot(page, artifacts, "03-console-list-before")

    # Create a store.
    page.get_by_role("link", name="Add vector store").click()
    page.get_by_label("Name:", exact=True).fill("Product docs")
    page.get_by_label("Description:", exact=True).fill("Manuals and the support team's notes")
    page.get_by_label("Expires after (days):", exact=True).fill("30")
    page.get_by_label("Metadata key 1").fill("team")
    page.get_by_label("Metadata value 1").fill("support")
    shoot(page, artifacts, "04-create-form")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("was created")
    expect(page.locator("h1")).to_have_text("Product docs")
    [store] = [s for s in fake_openai.vector_stores.values() if s["name"] == "Product docs"]
    assert store["metadata"] == {"team": "support"}
    assert store["expires_after"] == {"anchor": "last_active_at", "days": 30}
    shoot(page, artifacts, "05-store-page-empty")

    # Upload two files; record every value the progress bar takes.
    page.evaluate("""() => {
        window.progressValues = [];
        const bar = document.getElementById('vs-upload-progress');
        new MutationObserver(() => window.progressValues.push(Number(bar.getAttribute('aria-valuenow'))))
            .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
    }""")
    page.get_by_label("Files to upload:").set_input_files(
        [
            {"name": NON_ASCII_NAME, "mimeType": "text/plain", "buffer": RESUME},
            {"name": "manual.md", "mimeType": "text/markdown", "buffer": MANUAL},
        ]
    )
    # A slow uplink (about 3 s for these 270 KB), so the transfer reports progress on its way.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 100 * 1024},
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    progress = page.get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=30_000)
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    # The transfer is done while OpenAI still works (the fake takes its time): the bar went from 0,
    # through the transfer's own progress events, up to 100.
    values = page.evaluate("window.progressValues")
    assert values[0] == 0 and values[-1] == 100 and values == sorted(values), values
    assert any(0 < value < 100 for value in values), values
    expect(page.get_by_role("status")).to_contain_text("Processing at OpenAI")
    shoot(page, artifacts, "06-upload-processing")
    # When OpenAI is done, the page reloads with the files and admin's message.
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Uploaded 2 files", timeout=30_000)
    files = page.locator(".vs-files-table tbody tr")
    expect(files).to_have_count(2)
    expect(page.locator(".vs-files-table")).to_contain_text(NON_ASCII_NAME)
    expect(page.locator(".vs-files-table")).to_contain_text("manual.md")
    expect(page.locator(".vs-files-table")).to_contain_text("completed")
    assert sorted(
        f["filename"] for f in fake_openai.files.values() if f["filename"] in {NON_ASCII_NAME, "manual.md"}
    ) == sorted([NON_ASCII_NAME, "manual.md"])
    shoot(page, artifacts, "07-store-page-files")

    # Search the store's content.
    page.get_by_label("Search the store's content").fill("reset password")
    page.locator("#vs-search-form").get_by_role("button", name="Search").click()
    results = page.locator("#vs-search-results table tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(NON_ASCII_NAME)
    expect(results.first).to_contain_text("1.0000")
    expect(results.first).to_contain_text("reset a password")
    page.locator("#search").scroll_into_view_if_needed()
    shoot(page, artifacts, "08-search-results")

    # Remove one file (and delete it from OpenAI), after admin's confirmation page.
    manual_id = next(f["id"] for f in fake_openai.files.values() if f["filename"] == "manual.md")
    page.get_by_label("Select manual.md").check()
    page.get_by_role("button", name="Remove selected files…").click()
    expect(page.locator("#vs-files-to-remove")).to_contain_text("manual.md")
    page.get_by_label("Also delete these files from OpenAI").check()
    shoot(page, artifacts, "09-remove-confirmation")
    page.get_by_role("button", name="Yes, I’m sure").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Removed 1 file")
    expect(files).to_have_count(1)
    expect(page.locator(".vs-files-table")).not_to_contain_text("manual.md")
    assert manual_id not in fake_openai.files
    shoot(page, artifacts, "10-store-page-after-removal")

    # The list, now with the new store.
    page.locator(".breadcrumbs").get_by_role("link", name="Vector stores").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    page.get_by_role("link", name="Name", exact=True).click()  # sort by name
    expect(page.locator("#result_list tbody tr").first).to_contain_text("Onboarding handbook")
    # OpenAI lists by creation only: sorted by name, every store was fetched, and the page says so.
    expect(page.locator("#vs-list-note")).to_have_text(
        "Sorted by name: every vector store was fetched from OpenAI (up to 10,000)."
    )
    shoot(page, artifacts, "11-console-list")
    page.get_by_label("Search vector stores by name").fill("product")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#vs-list-note")).to_contain_text("Searched by name or id and sorted by name")

    # Delete the store, with its files.
    page.get_by_role("link", name="Product docs").click()
    page.locator(".object-tools").get_by_role("link", name="Delete").click()
    page.get_by_label("Also delete the store's files from OpenAI").check()
    shoot(page, artifacts, "12-delete-confirmation")
    page.get_by_role("button", name="Yes, I’m sure").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("was deleted with its 1 file")
    expect(page.locator("h1")).to_have_text("Vector stores")
    assert store["id"] not in fake_openai.vector_stores
    assert not [f for f in fake_openai.files.values() if f["filename"] == NON_ASCII_NAME]
    shoot(page, artifacts, "13-console-list-after-delete")

    # Every step is in the credential's history.
    page.goto(f"{live_server.url}/admin/credentials/credential/{e2e_credential.pk}/history/")
    history = page.locator("#change-history")
    for text in ("Created vector store", "Uploaded 2 files", "Removed 1 file", "Deleted vector store"):
        expect(history).to_contain_text(text)


def test_the_create_form_works_from_the_keyboard(page, live_server, e2e_admin, e2e_credential, fake_openai, artifacts):
    from playwright.sync_api import expect

    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/credentials/credential/{e2e_credential.pk}/vector-stores/add/")

    # Every field has a label (found by it), and no visible control lacks one.
    for label in (
        "Name:",
        "Description:",
        "Expires after (days):",
        "Metadata key 1",
        "Metadata value 1",
        "Metadata key 2",
        "Metadata value 2",
        "File ids:",
        "Auto (OpenAI chooses)",
        "Static (fixed chunk size)",
        "Max chunk size (tokens):",
        "Chunk overlap (tokens):",
    ):
        expect(page.get_by_label(label, exact=True)).to_have_count(1)
    unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll(
        '#vs-store-form input:not([type=hidden]), #vs-store-form select, #vs-store-form textarea'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && el.type !== 'submit')
        .map(el => el.name)""")
    assert unlabelled == []

    # Tab order: down the form, in reading order, to the submit button.
    page.get_by_label("Name:", exact=True).focus()
    focused = []
    for _ in range(20):
        focused.append(
            page.evaluate(
                "() => document.activeElement.id || document.activeElement.value || document.activeElement.textContent"
            )
        )
        if focused[-1] == "Save":
            break
        page.keyboard.press("Tab")
    assert focused == [
        "id_name",
        "id_description",
        "id_expiry_days",
        "id_metadata-0-key",
        "id_metadata-0-value",
        "id_metadata-1-key",
        "id_metadata-1-value",
        "Add another pair",
        "id_file_ids",
        "id_chunking_0",
        "id_max_chunk_size_tokens",
        "id_chunk_overlap_tokens",
        "Save",
    ]

    # The buttons work from the keyboard: add a metadata row, fill the form, submit with Enter.
    page.get_by_role("button", name="Add another pair").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Metadata key 3", exact=True)).to_be_focused()
    page.keyboard.type("owner")
    page.keyboard.press("Tab")
    page.keyboard.type("Ann")
    page.get_by_label("Name:", exact=True).focus()
    page.keyboard.type("Keyboard store")
    # A radio group is one tab stop; arrows move within it. Static without file ids is refused, in the page.
    page.get_by_label("Auto (OpenAI chooses)").focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Static (fixed chunk size)")).to_be_checked()
    page.get_by_role("button", name="Save", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator(".errornote")).to_contain_text("Please correct the errors below.")
    expect(page.locator(".field-chunking .errorlist")).to_contain_text("enter their file ids")
    assert not fake_openai.vector_stores  # nothing reached OpenAI
    shoot(page, artifacts, "20-create-form-errors")
    page.get_by_label("Auto (OpenAI chooses)").check()
    page.get_by_role("button", name="Save", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Keyboard store")
    [store] = fake_openai.vector_stores.values()
    assert store["metadata"] == {"owner": "Ann"}

    # On the store page too, the upload's controls are labelled, and the progress bar and status line are
    # announced (role=progressbar with aria-valuenow; role=status, aria-live).
    expect(page.get_by_label("Files to upload:")).to_have_count(1)
    progress = page.locator("#vs-upload-progress")
    expect(progress).to_have_attribute("role", "progressbar")
    expect(progress).to_have_attribute("aria-valuenow", "0")
    expect(page.locator("#vs-upload-status")).to_have_attribute("aria-live", "polite")
    # (The store page has other forms with options of their own: attaching files, and the search's filters.)
    upload = page.locator("#vs-upload-form")
    page.get_by_label("Files to upload:").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Upload", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(upload.locator("details.vs-options summary")).to_be_focused()
    page.keyboard.press("Enter")  # opens the chunking options
    page.keyboard.press("Tab")
    expect(upload.get_by_label("Auto (OpenAI chooses)")).to_be_focused()


def test_the_list_pages_through_openai(page, live_server, e2e_admin, e2e_credential, fake_openai, artifacts):
    from playwright.sync_api import expect

    for index in range(60):
        fake_openai.create_vector_store(name=f"Store {index:02}")
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/credentials/credential/{e2e_credential.pk}/vector-stores/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Store 59")
    pager = page.get_by_role("navigation", name="Pages of vector stores")
    expect(pager).to_contain_text("50 vector stores on this page")
    expect(pager.get_by_role("link", name="Previous page")).to_have_count(0)
    shoot(page, artifacts, "30-console-list-cursor-page-1")
    # From the keyboard: the next page, then back.
    pager.get_by_role("link", name="Next page", exact=True).focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("Store 09")
    expect(pager.get_by_role("link", name="Next page")).to_have_count(0)
    pager.scroll_into_view_if_needed()
    shoot(page, artifacts, "31-console-list-cursor-page-2")
    pager.get_by_role("link", name="Previous page", exact=True).click()
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Store 59")
    lists = [
        request.query
        for request in fake_openai.requests_to("GET", "/vector_stores")
        if request.path == "/vector_stores"
    ]
    assert [query.get("after", query.get("before")) is None for query in lists] == [True, False, False]
    assert all(query["limit"] == "50" for query in lists)
