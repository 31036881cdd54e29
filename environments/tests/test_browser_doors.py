"""In a real browser: the environment page shows every door's configuration,
copyable, and the lock a Terraform client holds (who, which client, doing
what, since when); an admin forces a crashed client's lock open; the state
history says which door and Terraform wrote each version.

Run with ATLAS_SCREENSHOTS=/some/folder to keep screenshots of the pages.
"""

import pytest
from django.db import connections

from environments import services
from environments.models import Environment, LockKind
from environments.tests.test_browser import sign_in
from states.models import Door
from states.tests.factories import environment, state_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCK_INFO = {
    "ID": "8d1c3f0e-5b7a-4c2d-9e6f-0a1b2c3d4e5f",
    "Operation": "OperationTypeApply",
    "Info": "",
    "Who": "writer@laptop",
    "Version": "1.6.6",
    "Created": "2026-12-01T10:00:00.000000000Z",
    "Path": "",
}


@pytest.fixture(autouse=True)
def close_connections_opened_in_the_browsers_context(browser_page):
    yield
    connections.close_all()


def test_the_page_shows_every_door_and_the_client_holding_the_lock_an_admin_breaks_it(
    live_server, personas, browser_page, screenshot
):
    from states import services as state_services

    network = environment("acme", "network")
    state_services.write_state(
        network, state_bytes(serial=1), user=personas.writer.user, door=Door.ATLAS
    )
    services.lock_environment(
        network,
        personas.writer.user,
        "",
        kind=LockKind.HTTP,
        lock_id=LOCK_INFO["ID"],
        operation=LOCK_INFO["Operation"],
        info=LOCK_INFO,
        client="Terraform 1.6.6",
    )
    page = browser_page
    sign_in(page, live_server.url, "/environments/acme/network", username="admin")
    host = live_server.url.split("://", 1)[1]
    doors = page.locator(".door pre")
    texts = [doors.nth(i).inner_text() for i in range(doors.count())]
    assert 'backend "atlas"' in texts[0] and 'name    = "acme/network"' in texts[0]
    assert f'address        = "{live_server.url}/api/v1/terraform/state/acme/network"' in texts[1]
    assert 'lock_method    = "POST"' in texts[2] and 'unlock_method  = "DELETE"' in texts[2]
    assert f'hostname     = "{host}"' in texts[3] and 'organization = "acme"' in texts[3]
    facts = page.get_by_test_id("lock-facts").inner_text()
    assert "Terraform's http backend · Terraform 1.6.6" in facts
    assert "OperationTypeApply" in facts and "writer@laptop" in facts and LOCK_INFO["ID"] in facts
    assert page.get_by_test_id("lock-holder").inner_text() == "writer"
    screenshot(page, "environment-doors-locked")

    page.get_by_label("Reason").fill("the client crashed")
    page.get_by_role("button", name="Force unlock").click()
    page.get_by_role("dialog").get_by_role("button", name="Force unlock").click()  # it asks first
    page.wait_for_url(f"{live_server.url}/environments/acme/network/settings")
    assert not Environment.objects.get(pk=network.pk).locked

    page.goto(f"{live_server.url}/environments/acme/network/state")
    history = page.get_by_test_id("history").inner_text()
    assert "through the atlas backend with Terraform 0.11.11" in history
    screenshot(page, "state-history-doors")
