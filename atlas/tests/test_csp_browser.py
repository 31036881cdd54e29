"""Every page, in a real browser, under the strict Content-Security-Policy:
the policy is sent, and the browser reports no violation. axe-core checks
each of our own pages (not Django's admin or Swagger UI) for accessibility.

The pages are listed by URL name, and the list is checked against the URL
patterns, so a new page cannot be added without being visited here (or
named below as not a page of its own).
"""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.urls import get_resolver, resolve, reverse
from django.urls.resolvers import URLResolver

from accounts.tests.factories import PASSWORD, UserFactory
from atlas.testing.axe import violations
from atlas.tests.conftest import own_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Routes that are no page of their own: POST-only actions (their answers are
# redirects to pages listed here, or those pages with errors), downloads,
# htmx fragments of the run page (they run inside it), JSON, sign-out.
NOT_PAGES = {
    "health",
    "favicon",  # a redirect to the icon
    "accounts:settings",  # a redirect to the account page
    "discovery",  # JSON for Terraform
    "accounts:terraform-login-token",  # JSON for Terraform
    "accounts:logout",
    "accounts:token-revoke",
    "accounts:organization-create",
    "accounts:member-invite",
    "accounts:member-level",
    "accounts:member-remove",
    "accounts:invitation-revoke",
    "accounts:invitation-accept",
    "accounts:invitation-decline",
    "accounts:organization-settings",
    "accounts:password-change",
    "accounts:email-change",
    "accounts:session-end",
    "accounts:sessions-end-others",
    "accounts:two-factor-start",
    "accounts:two-factor-qr",  # the QR code's image, shown on the two-factor page
    "accounts:two-factor-confirm",
    "accounts:two-factor-codes",
    "accounts:two-factor-disable",
    "accounts:team-create",
    "accounts:team-member-add",
    "accounts:team-member-remove",
    "accounts:team-rename",
    "accounts:team-delete",
    "environments:grant-team",
    "environments:grant-user",
    "environments:grant-level",
    "environments:grant-remove",
    "environments:create",
    "environments:variable-add",
    "environments:variable-delete",
    "environments:version-archive",
    "environments:auto-apply",
    "environments:lock",
    "environments:unlock",
    "environments:force-unlock",
    "environments:delete",
    "environments:execution-mode",
    "states:download",
    "runs:queue",
    "runs:live",
    "runs:log",
    "runs:log-raw",  # the whole log as text
    "runs:latest",  # the overview's latest-run card
    "runs:dashboard-runs",  # the dashboard's runs
    "runs:confirm",
    "runs:discard",
    "runs:cancel",
    "runs:tfe-link",  # a redirect to the run's page, for the link the TFE clients print
    "runs:integration-add",
    "runs:integration-deliveries",
    "runs:integration-edit",
    "runs:integration-test",
    "runs:integration-delete",
}

# Records violations from the first script on, before any of the page's own.
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI + " " +
                              event.sourceFile + ":" + event.lineNumber);
});
"""


def web_route_names():
    """URL names of everything outside /api/ and /admin/."""
    names = set()

    def walk(patterns, namespace, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(("api", "^api", "admin")):
                continue
            if isinstance(pattern, URLResolver):
                inner = ":".join(filter(None, [namespace, pattern.namespace]))
                walk(pattern.url_patterns, inner, route)
            elif pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns, "", "")
    return names


class Visitor:
    """Goes to pages and collects what the browser says about the policy."""

    def __init__(self, page, base, screenshot=None):
        self.page, self.base, self.screenshot = page, base, screenshot
        self.visited, self.problems, self.inaccessible = set(), [], []
        page.add_init_script(WATCH)
        page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.problems.append(f"{self.page.url}: {message.text}")

    def go(self, path, *, status=200, ready=None, accessible=False):
        response = self.page.goto(self.base + path)
        assert response.status == status, (path, response.status)
        self.check(response, ready)
        if accessible:
            self.inaccessible += violations(self.page)
        return response

    def check(self, response, ready=None):
        page = self.page
        page.wait_for_load_state("load")
        if ready:
            page.locator(ready).first.wait_for()
        if response is not None:
            headers = response.headers
            policy = headers.get("content-security-policy", "")
            assert "script-src 'self'" in policy and "style-src 'self'" in policy, page.url
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["x-frame-options"] == "DENY"
            assert headers["referrer-policy"] == "same-origin"
        violations = page.evaluate("window.__cspViolations")
        self.problems += [f"{page.url}: {v}" for v in violations]
        match = resolve(urlsplit(page.url).path)
        name = f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name
        if self.screenshot and name not in self.visited:
            self.screenshot(page, f"csp-{name.replace(':', '-')}")
        self.visited.add(name)


def test_every_page_carries_the_policy_and_the_browser_reports_no_violation(
    live_server, browser_page, world, screenshot, close_connections
):
    page = browser_page
    visit = Visitor(page, live_server.url, screenshot)

    visit.go("/login", accessible=True)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    for path in own_pages(world):
        visit.go(path, accessible=True)

    # A new token: the password page, then the token shown once (with its script).
    visit.go("/settings/tokens")
    page.get_by_label("Description").fill("laptop")
    with page.expect_response(lambda r: r.url.endswith("/settings/tokens/new")) as answer:
        page.get_by_role("button", name="Generate token").click()
    visit.check(answer.value, ready="text=Confirm your password")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/settings/tokens/new")) as answer:
        page.get_by_role("button", name="Confirm and continue").click()
    visit.check(answer.value, ready="#new-token")
    page.get_by_role("button", name="Copy", exact=True).click()

    visit.go("/api-docs/", ready=".info .title")
    page.get_by_role("button", name="GET /api/v1/environments", exact=False).first.click()
    page.locator(".opblock-body").first.wait_for()
    visit.check(None)  # after Swagger UI rendered an operation

    # Error pages.
    visit.go("/environments/acme/nothing-here", status=404, accessible=True)
    visit.go("/environments/acme/net%00work", status=400)

    # The admin: its index, each app, and every page of every registered model.
    visit.go("/admin/")
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        visit.go(reverse("admin:app_list", args=[opts.app_label]))
        visit.go(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        if model_admin.has_add_permission(_request_for(world)):
            visit.go(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        obj = model._default_manager.first()
        if obj is None:
            continue
        for view in ("change", "history", "delete"):
            name = f"admin:{opts.app_label}_{opts.model_name}_{view}"
            status = _admin_status(model_admin, view, world, obj)
            visit.go(reverse(name, args=[obj.pk]), status=status)
    visit.go(reverse("admin:password_change"))
    ada = world["ada"]
    visit.go(reverse("admin:auth_user_password_change", args=[ada.pk]))

    # Pages of people who are not signed in (yet).
    page.context.clear_cookies()
    for path in ["/signup", "/password-reset", "/password-reset/sent", world["invitation_link"]]:
        visit.go(path, accessible=True)
    reset = _password_reset_link(ada)
    visit.go(reset, ready="text=Choose a new password")
    page.get_by_label("New password", exact=True).fill("a new long passphrase")
    page.get_by_label("New password confirmation").fill("a new long passphrase")
    with page.expect_response(re.compile(r"/password-reset/complete$")) as answer:
        page.get_by_role("button", name="Set password").click()
    visit.check(answer.value)
    visit.go("/login")
    page.get_by_label("Username").fill("carl")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(re.compile(r"/login/code$")) as answer:
        page.get_by_role("button", name="Sign in").click()
    visit.check(answer.value, ready="text=Enter your code")

    assert visit.problems == []
    assert visit.inaccessible == []
    missing = web_route_names() - NOT_PAGES - visit.visited
    assert missing == set(), f"pages never visited: {sorted(missing)}"


def _request_for(world):
    from django.test import RequestFactory

    from accounts.models import User

    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(username="ada")
    return request


def _admin_status(model_admin, view, world, obj=None):
    request = _request_for(world)
    if view == "delete" and not model_admin.has_delete_permission(request, obj):
        return 403
    return 200


def _password_reset_link(user):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user.refresh_from_db()  # the token hashes the last sign-in
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("accounts:password-reset-confirm", kwargs={"uidb64": uid, "token": token})


def test_the_throttled_page_is_served_under_the_policy_too(
    live_server, browser_page, settings, close_connections
):
    settings.ATLAS_AUTH_FAILURE_LIMIT = 1
    UserFactory(username="ada")
    visit = Visitor(browser_page, live_server.url)
    page = browser_page
    for expected in (200, 429):
        visit.go("/login")
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill("wrong")
        with page.expect_response(re.compile(r"/login$")) as answer:
            page.get_by_role("button", name="Sign in").click()
        assert answer.value.status == expected
        visit.check(answer.value)
    assert page.get_by_role("heading", name="Too many attempts").is_visible()
    assert visit.problems == []
