"""A person in a real browser: sign in, generate a token, use it, revoke it."""

import json
import urllib.error
import urllib.request

import pytest

from accounts.models import Invitation, Level, Membership, Token
from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def authenticate(base_url, token):
    """(status, body) of GET /api/v1/authenticate with `token`."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/authenticate", headers={"X-Atlas-Token": token}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_person_generates_uses_and_revokes_a_token(
    live_server, browser_page, screenshot, settings
):
    # Always ask for the password again, so the flow covers that page too.
    settings.ATLAS_SUDO_SECONDS = 0
    user = UserFactory(username="ada")
    page = browser_page
    base = live_server.url

    page.goto(f"{base}/settings/tokens")
    assert page.url == f"{base}/login?next=/settings/tokens"
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/settings/tokens")
    screenshot(page, "tokens-empty")

    page.get_by_label("Description").fill("laptop")
    page.get_by_role("button", name="Generate token").click()
    if page.get_by_role("heading", name="Confirm your password").is_visible():
        screenshot(page, "sudo")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Confirm and continue").click()
    page.get_by_role("heading", name="Your new token").wait_for()
    text = page.locator("#new-token").input_value()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy", exact=True).click()
    page.get_by_role("button", name="Copied", exact=True).wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == text
    screenshot(page, "token-new")
    token = Token.objects.get(user=user, description="laptop")
    assert text.startswith(f"{token.public_id}.atlasv1.")

    assert authenticate(base, text) == (200, {"username": "ada"})

    page.goto(f"{base}/settings/tokens")
    assert token.public_id in page.content()
    assert text not in page.content()
    screenshot(page, "tokens")

    page.get_by_role("button", name="Revoke token laptop").click()
    dialog = page.get_by_role("dialog")
    assert "Revoke the token laptop?" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()  # nothing happens
    assert Token.objects.get(pk=token.pk).revoked_at is None
    page.get_by_role("button", name="Revoke token laptop").click()
    dialog.get_by_role("button", name="Revoke").click()
    page.get_by_text("Token “laptop” revoked").wait_for()
    assert page.locator("tbody .badge-danger").inner_text() == "revoked"
    token.refresh_from_db()
    assert token.revoked_at is not None
    status, _ = authenticate(base, text)
    assert status == 401


def test_a_person_creates_an_organization_and_invites_a_member(
    live_server, browser_page, screenshot
):
    UserFactory(username="ada")
    bob = UserFactory(username="bob")
    page = browser_page
    base = live_server.url

    page.goto(f"{base}/login")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    screenshot(page, "dashboard-new")

    page.get_by_role("link", name="Organizations", exact=True).click()
    screenshot(page, "organizations-empty")
    page.get_by_label("Name").fill("acme")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(f"{base}/organizations/acme")

    page.get_by_label("Username or email").fill("bob")
    page.get_by_label("Level", exact=True).select_option("write")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to bob.").wait_for()
    assert Invitation.objects.get(user=bob).level == Level.WRITE
    assert not Membership.objects.filter(user=bob).exists()
    screenshot(page, "members")

    page.get_by_label("Level of ada").select_option("read")
    page.locator("form[action$='/members/ada/level'] button").click()
    page.get_by_text("The last admin of an organization cannot be demoted.").wait_for()
    assert Membership.objects.get(user__username="ada").level == Level.ADMIN
    screenshot(page, "members-error")

    page.goto(f"{base}/settings/organizations")
    screenshot(page, "organizations")
    page.goto(f"{base}/")
    screenshot(page, "dashboard")
