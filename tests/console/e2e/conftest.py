"""Fixtures of the browser tests: Debian's Chromium driven by Playwright against pytest-django's
live_server, with the fake OpenAI behind it.

Never downloads a browser: it launches /usr/bin/chromium. Without it (or without the playwright
package) the tests skip with the reason, except in CI (CI=true), where that is a failure.
"""

import importlib.util
import os
from pathlib import Path

import pytest
from django.db import connections

from tests.conftest import PROJECT_ROOT, TEST_API_KEY, leaked_keys
from vectorstores.testing import create_credential

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "e2e"
VIEWPORT = {"width": 1280, "height": 800}
ADMIN_PASSWORD = "e2e-admin-password"


def missing_browser():
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "the 'playwright' package is not installed (pip install playwright; it is in the test extra)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} is missing (apt-get install chromium); the tests never download a browser"
    return None


def in_ci():
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.fixture
def browser():
    """Chromium, for one test. Per test rather than per session: while Playwright's sync API runs, its
    event loop runs in this thread, and Django refuses ORM calls from it unless DJANGO_ALLOW_ASYNC_UNSAFE
    is set; so it is set only while a browser runs, never for the other tests of the process."""
    reason = missing_browser()
    if reason:
        if in_ci():
            pytest.fail(f"Browser tests cannot run in CI: {reason}.", pytrace=False)
        pytest.skip(f"Browser tests skipped: {reason}.")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # Meanwhile this thread ran in Playwright's greenlet, whose context is its own, and Django keeps a
                # connection per context: close that one, or its PostgreSQL session outlives the run (and the test
                # database cannot be dropped).
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def e2e_admin(transactional_db, django_user_model):
    return django_user_model.objects.create_superuser("e2e-admin", "admin@example.com", ADMIN_PASSWORD)


@pytest.fixture
def e2e_credential(transactional_db, fake_openai):
    """A credential pointing at the fake OpenAI (usable by superusers)."""
    return create_credential(fake_openai, name="Support team key", api_key=TEST_API_KEY)


def assert_no_stored_key(page):
    """Responses of the live server escape the test client's sweep: check each page the browser shows."""
    assert not leaked_keys(page.content())


def shoot(page, artifacts, name, full_page=False):
    """A screenshot of the page (the viewport, or all of it) in test-artifacts/e2e/<name>.png, and no stored key
    on it."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=full_page)
    assert_no_stored_key(page)


def log_in(page, live_server):
    """Sign in to the admin as e2e_admin."""
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("e2e-admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")


def unlabelled_controls(page, form_selector):
    """The names of the visible form controls in `form_selector` that have no label (nor aria-label)."""
    return page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(
        `${selector} input:not([type=hidden]), ${selector} select, ${selector} textarea`))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && el.type !== 'submit')
        .map(el => el.name)""",
        form_selector,
    )


def focus_order(page, start, last, limit=30):
    """Tab from the element `start` (a locator) until the focused element is `last` (an id, or a button's value
    or text): each focused element's id, or its value or text when it has no id."""
    start.focus()
    focused = []
    for _ in range(limit):
        focused.append(
            page.evaluate(
                "() => document.activeElement.id || document.activeElement.value || document.activeElement.textContent"
            )
        )
        if focused[-1] == last:
            break
        page.keyboard.press("Tab")
    return focused
