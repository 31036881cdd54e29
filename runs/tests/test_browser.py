"""People follow runs in the browser, at 1280 px and on a phone (390 px):
live, without reloading, with a real worker (and the real Terraform 0.11,
or the fake one where a log has to stream slowly)."""

import pytest
from django.db import connections

from accounts.tests.factories import PASSWORD
from atlas.testing.browser import PHONE, VIEWPORT
from runs.models import Run, Status

from .conftest import FAKE_TERRAFORM, wait_for, wait_for_status
from .e2e import CHANGING, push
from .factories import environment, finished_version

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROKEN = 'output "x" {\n  value = "${var.missing}"\n}\n'
TERRAFORMS_ERROR = "unknown variable referenced: 'missing'"
WIDTHS = [VIEWPORT, PHONE]

# A plan whose log streams for a few seconds, then finds nothing to change.
STREAMING_PLAN = """
i=0
while [ $i -lt 160 ]; do
  echo "data.example.item[$i]: Refreshing state... (a line long enough to wrap on a phone)"
  i=$((i + 1))
  sleep 0.025
done
echo "No changes. Infrastructure is up-to-date."
exit 0
"""

IN_VIEW = """
(element) => {
  const box = element.getBoundingClientRect();
  return box.top >= 0 && box.top + Math.min(box.height, 24) <= window.innerHeight;
}
"""
AT_END = "(log) => log.scrollHeight - log.scrollTop - log.clientHeight <= 24"


def wait_at_end(page, timeout=5_000):
    """Wait until the plan log shows its end (it is scrolled right after a
    piece of log is swapped in, not in the same instant)."""
    page.wait_for_function(
        "() => { const log = document.querySelector('#plan-log');"
        " return log.scrollHeight - log.scrollTop - log.clientHeight <= 24; }",
        timeout=timeout,
    )


@pytest.fixture
def close_connections():
    """While Playwright's loop runs, the test's queries get a connection of
    their own context: close it here, or it outlives the test database."""
    yield
    connections.close_all()


def sign_in(page, base, username="writer"):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def newest_run():
    return wait_for(lambda: Run.objects.order_by("-id").first(), timeout=20, message="a run")


def test_a_failed_run_is_seen_from_the_dashboard_the_list_the_overview_and_the_run_page(
    personas, live_server, workers, open_page, screenshot, close_connections
):
    environment("app")
    workers.start()
    push(live_server.url, personas.writer.token, "acme/app", {"main.tf": BROKEN})
    run = wait_for_status(newest_run(), Status.ERRORED, timeout=60)
    assert TERRAFORMS_ERROR in run.error_text  # Terraform's own words, kept on the run

    places = [
        ("/", "#dashboard-runs [data-attention=errored]"),
        ("/environments", "#environments-table"),
        ("/environments/acme/app", "#latest-run"),
        (f"/environments/acme/app/runs/{run.pk}", "#run-live"),
    ]
    for viewport in WIDTHS:
        page = open_page(viewport)
        sign_in(page, live_server.url)
        for path, where in places:
            page.goto(live_server.url + path)
            error = page.locator(f"{where} [data-run-error]").first
            assert TERRAFORMS_ERROR in error.inner_text(), path
            assert error.evaluate(IN_VIEW), f"{path} at {viewport['width']} px: scroll to see it"
            name = path.strip("/").replace("/", "-") or "dashboard"
            screenshot(page, f"failed-{viewport['width']}-{name}")
        # The run page says what failed above its log, which opens at its end.
        log = page.locator("#plan-log")
        assert TERRAFORMS_ERROR in log.inner_text()
        assert log.evaluate(AT_END)
        assert page.locator("#apply-log").count() == 0  # a run that never applies


def test_a_plan_that_needs_confirmation_is_seen_and_confirmed_from_the_overview(
    personas, live_server, workers, open_page, screenshot, close_connections
):
    environment("app")
    workers.start()
    for viewport in WIDTHS:
        page = open_page(viewport)
        sign_in(page, live_server.url)
        page.goto(f"{live_server.url}/environments/acme/app")
        page.evaluate("window.stillTheSamePage = true")
        before = Run.objects.order_by("-id").values_list("id", flat=True).first() or 0
        push(live_server.url, personas.writer.token, "acme/app", {"main.tf": CHANGING})
        number = wait_for(lambda: Run.objects.filter(pk__gt=before).first(), timeout=20).pk  # noqa: B023
        card = page.locator("#latest-run")
        card.locator('[data-run-status="planned"]').wait_for(timeout=60_000)
        assert page.evaluate("window.stillTheSamePage") is True  # refreshed in place
        assert f"Run #{number}" in card.inner_text()
        assert "Waiting for confirmation" in card.inner_text()
        assert card.get_by_role("button", name="Confirm & apply").evaluate(IN_VIEW)
        screenshot(page, f"confirm-{viewport['width']}-waiting")

        card.get_by_role("button", name="Confirm & apply").click()
        page.wait_for_url(f"{live_server.url}/environments/acme/app")
        assert page.get_by_text(f"Run #{number} confirmed: the apply is queued.").is_visible()
        page.locator('#latest-run [data-run-status="applied"]').wait_for(timeout=60_000)
        screenshot(page, f"confirm-{viewport['width']}-applied")
        run = Run.objects.get(pk=number)
        assert run.status == Status.APPLIED and run.confirmed_by == personas.writer.user
        page.close()


def test_a_run_page_follows_a_streaming_log_and_updates_its_header_when_the_run_ends(
    personas, live_server, workers, open_page, screenshot, close_connections
):
    app = environment("app")
    version = finished_version(app, files={"main.tf": "", "plan.sh": STREAMING_PLAN})
    from runs.queue import queue_run

    run = queue_run(app, personas.writer.user, version=version)
    url = f"{live_server.url}/environments/acme/app/runs/{run.pk}"
    pages = []
    for viewport in WIDTHS:
        page = open_page(viewport)
        sign_in(page, live_server.url)
        page.goto(url)
        assert f"Locked by run #{run.pk}" in page.locator("#environment-state").inner_text()
        page.evaluate("window.stillTheSamePage = true")
        pages.append(page)
    desk, phone = pages

    workers.start(ATLAS_TERRAFORM_BIN=str(FAKE_TERRAFORM))
    for page in pages:
        page.locator("#plan-log", has_text="item[40]").wait_for(timeout=60_000)
        wait_at_end(page)  # it follows the end
    # Scrolling up stops the following, and offers the way back.
    desk.locator("#plan-log").evaluate("(log) => { log.scrollTop = 0; }")
    desk.locator("[data-follow-jump]").wait_for()
    for page in pages:
        page.locator("#plan-log", has_text="item[120]").wait_for(timeout=30_000)
    assert desk.locator("#plan-log").evaluate("(log) => log.scrollTop") == 0
    wait_at_end(phone)

    for page in pages:
        page.locator('#run-status-title [data-run-status="planned_and_finished"]').wait_for(
            timeout=60_000
        )
        page.locator("#environment-state .notice").wait_for(state="detached", timeout=10_000)
        assert page.evaluate("window.stillTheSamePage") is True
        # The log's own poll (every second) brings its last lines: it is
        # not swapped under a reader who may have scrolled it.
        page.locator("#plan-log", has_text="No changes. Infrastructure is up-to-date.").wait_for(
            timeout=10_000
        )
        assert page.locator("#plan-log .log-poll").count() == 0  # a finished log is not polled
    phone.locator("#plan-log").evaluate("(log) => log.scrollIntoView()")
    screenshot(phone, "streamed-390")
    screenshot(desk, "streamed-1280")
    desk.get_by_role("button", name="Follow the end ↓").click()
    assert desk.locator("#plan-log").evaluate(AT_END)
    assert wait_for_status(run, Status.PLANNED_AND_FINISHED, timeout=5).holds_lock is False


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
