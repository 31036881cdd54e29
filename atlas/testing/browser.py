"""A pytest plugin with a Playwright page in Debian's chromium.

Register it with `pytest_plugins = ["atlas.testing.browser"]` in the root
conftest.py. Playwright cannot download its own browser here, so the tests
drive the distribution's chromium (`make browser` installs it).
"""

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ATLAS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


PHONE = {"width": 390, "height": 844}


@pytest.fixture
def chromium(monkeypatch):
    """Debian's chromium, launched for one test.

    Playwright's sync API runs an event loop in this thread, so Django takes
    the test's own ORM calls for calls from async code; they are not, and
    the variable below says so for the duration of the test.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(chromium):
    """`open_page(viewport)`: a page in a fresh context (cookies of its own),
    1280x800 by default; `PHONE` is an iPhone-sized 390x844 with touch."""
    contexts = []

    def open_one(viewport=VIEWPORT):
        phone = viewport["width"] < 640
        context = chromium.new_context(viewport=viewport, has_touch=phone, is_mobile=phone)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_one
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(open_page):
    """A fresh page (1280x800) in a fresh browser context."""
    return open_page()


@pytest.fixture
def screenshot():
    """`screenshot(page, name)` saves a PNG when ATLAS_SCREENSHOTS names a folder.

    Off by default: screenshots are for looking at a page while working on
    it, not test artefacts.
    """
    folder = os.environ.get("ATLAS_SCREENSHOTS")

    def take(page, name):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take
