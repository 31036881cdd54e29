"""People in a real browser: an owner invites, the invited accept (by name on
their invitations page, by email through a sign-up link from a real SMTP
server), the owner puts one in a team and grants the team an environment,
and the newcomer turns on two-factor sign-in and signs in again with a code.

Run with ATLAS_SCREENSHOTS=/some/folder to keep screenshots of every page.
"""

import re
from base64 import b32decode

import pytest
from django.db import connections
from django_otp.oath import TOTP

from accounts.models import Grant, MemberLevel, Membership, TeamMembership, User
from accounts.tests.factories import PASSWORD, UserFactory, organization
from accounts.twofactor.models import TotpDevice
from atlas.testing.smtp import SmtpServer
from environments.tests.factories import EnvironmentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def close_connections_opened_in_the_browsers_context(browser_page):
    """ORM calls made while Playwright's loop runs get their own connection;
    close it before teardown, or PostgreSQL refuses to drop the test database."""
    yield
    connections.close_all()


@pytest.fixture
def smtp(tmp_path, settings):
    with SmtpServer(tmp_path) as server:
        for name, value in server.settings().items():
            setattr(settings, name, value)
        yield server


def sign_in(page, base, username, password=PASSWORD):
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def code_from(secret, steps_ahead=0):
    """What an authenticator app shows for the key the page printed."""
    import time

    counter = TOTP(b32decode(secret.replace(" ", "")), step=30, digits=6)
    counter.time = time.time() + 30 * steps_ahead
    return f"{counter.token():06d}"


def test_invite_accept_team_grant_and_two_factor_sign_in(
    live_server, browser_page, screenshot, smtp
):
    ada = UserFactory(username="ada")
    UserFactory(username="bob", email="bob@example.com")
    acme = organization("acme", ada)
    EnvironmentFactory(namespace=acme.namespace, name="network")
    EnvironmentFactory(namespace=acme.namespace, name="billing")
    base = live_server.url
    owner = browser_page
    people = owner.context.browser.new_context(viewport={"width": 1280, "height": 800})
    people.set_default_timeout(10_000)
    bob = people.new_page()

    # The owner invites bob by name, with no default level, and carol by email.
    sign_in(owner, base, "ada")
    owner.wait_for_url(f"{base}/")
    owner.goto(f"{base}/organizations/acme")
    owner.get_by_label("Username or email").fill("bob")
    owner.get_by_label("Level", exact=True).select_option("none")
    owner.get_by_role("button", name="Send invitation").click()
    owner.get_by_text("Invitation sent to bob.").wait_for()
    owner.get_by_label("Username or email").fill("carol@example.com")
    owner.get_by_label("Level", exact=True).select_option("read")
    owner.get_by_role("button", name="Send invitation").click()
    owner.get_by_text("Invitation sent to carol@example.com.").wait_for()
    screenshot(owner, "organization-invitations")
    assert not Membership.objects.filter(user__username="bob").exists()

    # bob accepts on his invitations page.
    sign_in(bob, base, "bob")
    bob.get_by_role("link", name="Answer it").click()
    screenshot(bob, "invitations")
    bob.get_by_role("button", name="Accept the invitation to acme").click()
    bob.get_by_text("You joined acme: its teams and grants give you access.").wait_for()
    assert Membership.objects.get(user__username="bob").level == MemberLevel.NONE

    # carol follows the link of her email and signs up.
    messages = smtp.wait_for(2)
    [to_carol] = [m for m in messages if m["To"] == "carol@example.com"]
    link = re.search(r"https?://\S+/invitations/\S+", to_carol.get_content()).group(0)
    carol_context = owner.context.browser.new_context()
    carol = carol_context.new_page()
    carol.goto(link)
    screenshot(carol, "invitation-link")
    carol.get_by_label("Username").fill("carol")
    carol.get_by_label("Password", exact=True).fill("a long new secret")
    carol.get_by_label("Password again").fill("a long new secret")
    carol.get_by_role("button", name="Create account and join").click()
    carol.get_by_text("Welcome, carol: you joined acme.").wait_for()
    assert User.objects.get(username="carol").email == "carol@example.com"
    carol_context.close()

    # The owner makes a team with bob and grants it write on acme/network.
    owner.goto(f"{base}/organizations/acme")
    owner.get_by_role("link", name="Teams").click()
    owner.get_by_label("Name").fill("ops")
    owner.get_by_role("button", name="Create team").click()
    owner.wait_for_url(f"{base}/organizations/acme/teams/ops")
    owner.get_by_label("Member", exact=True).select_option("bob")
    owner.get_by_role("button", name="Add to team").click()
    owner.get_by_text("bob added to ops.").wait_for()
    assert TeamMembership.objects.filter(team__name="ops", user__username="bob").exists()
    screenshot(owner, "team")
    owner.goto(f"{base}/environments/acme/network")
    owner.get_by_role("link", name="Access").click()
    owner.get_by_label("Team", exact=True).select_option("ops")
    owner.get_by_label("Level", exact=True).first.select_option("write")
    owner.get_by_role("button", name="Grant").first.click()
    owner.get_by_text("Team ops now has write access.").wait_for()
    assert Grant.objects.get(team__name="ops").level == "write"
    screenshot(owner, "access")

    # bob sees exactly that environment, at write.
    bob.goto(f"{base}/environments")
    screenshot(bob, "environments-granted")
    assert bob.get_by_role("link", name="network").count() == 1
    assert bob.get_by_role("link", name="billing").count() == 0
    bob.goto(f"{base}/environments/acme/network")
    assert bob.locator(".page-header .badge-level-write").inner_text() == "write"

    # bob turns on two-factor sign-in with a code from "his app".
    bob.goto(f"{base}/settings/account")
    bob.get_by_role("link", name="Set up two-factor sign-in").click()
    bob.get_by_role("button", name="Set up two-factor sign-in").click()
    if bob.get_by_role("heading", name="Confirm your password").is_visible():
        bob.get_by_label("Password").fill(PASSWORD)
        bob.get_by_role("button", name="Confirm and continue").click()
    bob.get_by_role("heading", name="Scan this code with your authenticator app").wait_for()
    # The QR code is an image of its own URL; it loads and has a size.
    bob.wait_for_function(
        "() => { const img = document.querySelector('.enrol-qr img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    secret = bob.locator("#totp-secret").inner_text()
    screenshot(bob, "two-factor-enrol")
    bob.get_by_label("Code", exact=True).fill(code_from(secret))
    bob.get_by_role("button", name="Turn on two-factor sign-in").click()
    bob.get_by_role("heading", name="Your recovery codes").wait_for()
    assert bob.locator("#recovery-codes li").count() == 10
    screenshot(bob, "two-factor-codes")
    assert TotpDevice.objects.get(user__username="bob").confirmed

    # bob signs out and in again: password, then a code.
    bob.get_by_role("button", name="Sign out").click()
    sign_in(bob, base, "bob")
    bob.get_by_role("heading", name="Enter your code").wait_for()
    screenshot(bob, "sign-in-code")
    bob.get_by_label("Code", exact=True).fill(code_from(secret, steps_ahead=1))
    bob.get_by_role("button", name="Verify").click()
    bob.wait_for_url(f"{base}/")
    assert bob.get_by_role("heading", name="Welcome, bob").is_visible()
    people.close()
