"""A person in a real browser: the state page, a diff, and a confirmed rollback."""

import pytest

from accounts.tests.factories import PASSWORD
from states.models import EnvironmentState

from .factories import StateVersionFactory, environment

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "hunter2-must-not-show"


def sign_in(page, base, username, next_path):
    page.goto(f"{base}{next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{next_path}")


@pytest.fixture
def two_applies(personas):
    network = environment("acme", "network")
    StateVersionFactory(
        environment=network, serial=1, user=personas.writer.user,
        outputs={"vpc_cidr": "10.0.0.0/16", "db_password": (SECRET, True)},
        resources={"aws_vpc.main": {"id": "vpc-1", "cidr_block": "10.0.0.0/16"}},
    )  # fmt: skip
    StateVersionFactory(
        environment=network, serial=2, user=personas.writer.user,
        outputs={"vpc_cidr": "10.1.0.0/16", "subnet": "10.1.1.0/24", "db_password": (SECRET, True)},
        resources={
            "aws_vpc.main": {"id": "vpc-1", "cidr_block": "10.1.0.0/16"},
            "aws_subnet.a": {"id": "subnet-1", "cidr_block": "10.1.1.0/24"},
        },
    )  # fmt: skip
    return network


def test_a_reader_sees_the_head_and_what_changed(
    live_server, browser_page, screenshot, two_applies
):
    page, base = browser_page, live_server.url
    sign_in(page, base, "reader", "/environments/acme/network/state")
    assert page.get_by_test_id("head-serial").inner_text() == "#2"
    outputs = page.get_by_test_id("outputs")
    assert "10.1.0.0/16" in outputs.inner_text()
    assert "sensitive" in outputs.inner_text()
    assert SECRET not in page.content()
    assert page.get_by_test_id("history").locator("tbody tr").count() == 2
    assert page.get_by_role("link", name="Roll back…").count() == 0
    screenshot(page, "state-page")

    page.get_by_role("link", name="What changed in #2").click()
    page.wait_for_url("**/state/diff?from=1&to=2")
    summary = page.get_by_test_id("summary").inner_text()
    assert "+1 added" in summary and "~1 changed" in summary
    changes = page.get_by_test_id("output-changes").inner_text()
    assert "10.0.0.0/16" in changes and "10.1.0.0/16" in changes and "subnet" in changes
    resources = page.get_by_test_id("resource-changes").inner_text()
    assert "aws_subnet.a" in resources and "cidr_block" in resources
    added = page.get_by_test_id("unified-diff").locator(".diff-add")
    assert any("10.1.1.0/24" in text for text in added.all_inner_texts())
    assert SECRET not in page.content()
    screenshot(page, "state-diff")


def test_an_admin_rolls_back_after_typing_the_serial(
    live_server, browser_page, screenshot, two_applies
):
    page, base = browser_page, live_server.url
    sign_in(page, base, "admin", "/environments/acme/network/state")
    page.get_by_role("link", name="Roll back…").click()
    page.get_by_role("heading", name="Roll back to serial #1?").wait_for()
    page.get_by_label("Type 1 to confirm").fill("2")
    page.get_by_role("button", name="Roll back to #1").click()
    page.get_by_text("Type 1 to confirm the rollback.").wait_for()
    assert EnvironmentState.objects.get(pk=two_applies.pk).head.serial == 2
    screenshot(page, "state-rollback-refused")

    page.get_by_label("Type 1 to confirm").fill("1")
    page.get_by_role("button", name="Roll back to #1").click()
    page.wait_for_url(f"{base}/environments/acme/network/state")
    assert "now the head as serial 3" in page.content()
    assert page.get_by_test_id("head-serial").inner_text() == "#3"
    assert "10.0.0.0/16" in page.get_by_test_id("outputs").inner_text()
    screenshot(page, "state-after-rollback")
