"""A person follows a run live in the browser and confirms it."""

import pytest
from django.db import connections

from accounts.tests.factories import PASSWORD
from runs.models import Run, Status

from .conftest import wait_for_status
from .e2e import CHANGING, push
from .factories import environment

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def close_connections():
    """While Playwright's loop runs, the test's queries get a connection of
    their own context: close it here, or it outlives the test database."""
    yield
    connections.close_all()


def test_a_writer_follows_a_run_live_and_confirms_it(
    personas, live_server, workers, browser_page, screenshot, close_connections
):
    page = browser_page
    environment("app")
    push(live_server.url, personas.writer.token, "acme/app", {"main.tf": CHANGING})
    run = Run.objects.get()

    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", "writer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/environments/acme/app/runs")
    page.click(f"table a[href$='/runs/{run.pk}']")
    page.wait_for_url(f"**/runs/{run.pk}")
    assert page.locator("#run-live [data-run-status]").first.inner_text() == "pending"
    page.evaluate("window.stillTheSamePage = true")

    workers.start()  # the page is open before the run starts
    page.locator('#run-live [data-run-status="planned"]').first.wait_for(timeout=60_000)
    page.locator("#plan-log", has_text="Plan: 0 to add").wait_for(timeout=10_000)
    assert page.evaluate("window.stillTheSamePage") is True  # updated without a reload
    assert "planning" in page.locator(".run-timeline").inner_text()
    screenshot(page, "run-planned")

    page.click("text=Confirm & apply")
    page.locator('#run-live [data-run-status="applied"]').first.wait_for(timeout=60_000)
    page.locator("#apply-log", has_text="Apply complete!").wait_for(timeout=10_000)
    screenshot(page, "run-applied")
    run = wait_for_status(run, Status.APPLIED, timeout=5)
    assert run.confirmed_by == personas.writer.user
    assert page.locator("text=Confirm & apply").count() == 0
