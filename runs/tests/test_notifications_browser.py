"""An admin adds a webhook on the Integrations tab, sends a test and sees
it delivered, with a real worker and a receiver that checks the signature."""

import json

import pytest
from django.db import connections

from accounts.tests.factories import PASSWORD
from runs.models import NotificationConfiguration

from .factories import environment
from .notify import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def close_connections():
    """While Playwright's loop runs, the test's queries get a connection of
    their own context: close it here, or it outlives the test database."""
    yield
    connections.close_all()


def test_an_admin_adds_a_webhook_sends_a_test_and_sees_it_delivered(
    personas, live_server, workers, browser_page, screenshot, close_connections, tmp_path, settings
):
    settings.ATLAS_NOTIFY_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    page = browser_page
    environment("app")
    secret_file = tmp_path / "hook" / "secret"
    with Receiver(tmp_path / "hook", "--secret-file", str(secret_file)) as receiver:
        workers.start(ATLAS_NOTIFY_ALLOW_PRIVATE="true")
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/environments/acme/app")
        page.click("nav.env-tabs >> text=Integrations")
        page.wait_for_url("**/environments/acme/app/integrations")
        assert page.locator("text=No notifications yet.").is_visible()
        assert not page.locator("input[name=recipients]").is_visible()  # not for a webhook

        page.fill("input[name=url]", receiver.url())
        page.check("input[name=events][value=applied]")
        screenshot(page, "integrations-add")
        page.click("text=Add notification")
        secret = page.locator("input[data-secret]").input_value()
        assert secret.startswith("whsec_")
        receiver.set_secret(secret)
        screenshot(page, "integration-secret")
        configuration = NotificationConfiguration.objects.get()
        assert configuration.events == ["planned", "applied", "errored"]
        assert secret not in configuration.secret_sealed

        page.click("text=Send a test")
        page.locator('#deliveries [data-delivery-status="delivered"]').wait_for(timeout=30_000)
        page.click("#deliveries summary")
        assert "HTTP 200" in page.locator("#deliveries").inner_text()
        screenshot(page, "integration-delivered")
        (request,) = receiver.requests()

    assert request["verified"] is True
    alert = json.loads(request["body"])["terraform_alert"]
    assert alert["status"] == "test" and alert["test"] is True
    assert alert["environment"] == "acme/app"
    # The secret was shown once: the page does not show it again.
    page.goto(f"{live_server.url}/environments/acme/app/integrations/{configuration.pk}")
    assert secret not in page.content()
