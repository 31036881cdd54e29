"""Every page on a phone (390 px wide): reached through the menu button, no
page wider than the screen, every control on screen, tables shown as cards
with their status in view, and no accessibility violation (axe-core)."""

import pytest
from django.utils import timezone

from accounts.models import Token
from accounts.tests.factories import PASSWORD, token_for
from atlas.testing.axe import violations
from atlas.testing.browser import PHONE
from atlas.tests.conftest import own_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAIN_NAVIGATION = ["Environments", "Organizations", "Tokens", "Account", "Dashboard", "Admin"]

# Controls that are not wholly on screen, outside the boxes that scroll sideways.
OFF_SCREEN = """
() => [...document.querySelectorAll("a, button, input, select, textarea, summary")]
  .filter((element) => element.offsetParent !== null && !element.closest("pre, .diff, .doors"))
  .filter((element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && (box.left < -1 || box.right > window.innerWidth + 1);
  })
  .map((element) => element.outerHTML.slice(0, 120))
"""


def sign_in(page, base):
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_every_page_is_reachable_and_usable_on_a_phone(
    live_server, open_page, world, screenshot, close_connections
):
    revoked = Token.objects.get(
        public_id=token_for(world["ada"], description="old laptop").split(".")[0]
    )
    Token.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    page = open_page(PHONE)
    sign_in(page, live_server.url)

    menu = page.get_by_role("button", name="Menu")
    navigation = page.get_by_role("navigation", name="Main")
    assert menu.is_visible() and not navigation.is_visible()
    for name in MAIN_NAVIGATION:
        menu.click()
        assert menu.get_attribute("aria-expanded") == "true"
        navigation.get_by_role("link", name=name, exact=True).click()
        page.wait_for_load_state()
        if name == "Admin":
            assert page.get_by_text("Atlas administration").is_visible()
        else:
            assert page.locator('.mainnav [aria-current="page"]').inner_text() == name
    page.goto(f"{live_server.url}/")
    menu.click()
    assert navigation.get_by_role("button", name="Sign out ada").is_visible()

    problems = []
    for path in own_pages(world):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            problems.append(f"{path}: the page is {width} px wide")
        problems += [f"{path}: off screen: {html}" for html in page.evaluate(OFF_SCREEN)]
        problems += violations(page)
        screenshot(page, "phone" + path.split("?")[0].replace("/", "-")[:80])
    assert problems == []

    # The destroy-plan panel opens in the page, its field on screen; a wrong
    # name comes back with what was typed.
    page.goto(f"{live_server.url}/environments/acme/app")
    page.get_by_text("Queue destroy plan…").click()
    field = page.get_by_label("Type acme/app to plan destroying everything")
    assert field.evaluate("(e) => e.getBoundingClientRect().right <= window.innerWidth")
    field.fill("app")
    screenshot(page, "phone-destroy-panel")
    page.get_by_role("button", name="Queue destroy plan", exact=True).click()
    assert page.get_by_text("Type acme/app exactly to queue a destroy plan.").is_visible()
    assert page.get_by_label("Type acme/app to plan destroying everything").input_value() == "app"

    # A revoked token says so on a phone: the status is on its card.
    page.goto(f"{live_server.url}/settings/tokens")
    card = page.locator("tr", has_text="old laptop")
    assert card.get_by_text("revoked", exact=True).is_visible()
    assert card.locator("td", has_text="revoked").bounding_box()["x"] >= 0
