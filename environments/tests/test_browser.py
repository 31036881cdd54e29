"""A person in a real browser adds a sensitive variable and never sees it again.

Run with ATLAS_SCREENSHOTS=/some/folder to keep screenshots of every page.
"""

import pytest
from django.db import connections

from accounts.tests.factories import PASSWORD
from environments.models import ConfigurationVersion
from environments.services import receive_upload
from environments.tests.factories import (
    ConfigurationVersionFactory,
    EnvironmentFactory,
    VariableFactory,
    good_archive,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def close_connections_opened_in_the_browsers_context(browser_page):
    """ORM calls made while Playwright's loop runs get their own connection
    (Django keeps connections per async context); close it before teardown,
    or PostgreSQL refuses to drop the test database."""
    yield
    connections.close_all()


SECRET = "correct-horse-7f3a9c-secret"


def sign_in(page, base, path, username="writer"):
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}")


def some_history(environment, user):
    version = ConfigurationVersionFactory(
        environment=environment, user=user, metadata={"git_branch": "main"}
    )
    body = good_archive()
    chunks = iter([body])
    receive_upload(version.secret, lambda n: next(chunks, b""), len(body))
    errored = ConfigurationVersionFactory(environment=environment, user=user)
    ConfigurationVersion.objects.filter(pk=errored.pk).update(
        status="errored", error="The archive was refused: 'etc/passwd' would be extracted..."
    )
    VariableFactory(environment=environment, key="region", value="eu-west-1")
    VariableFactory(environment=environment, category="env", key="TF_LOG", value="INFO")


def test_a_sensitive_variable_is_never_shown_again(live_server, personas, browser_page, screenshot):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    some_history(environment, personas.writer.user)
    page = browser_page
    base = live_server.url
    variables = "/environments/acme/app/variables"
    sign_in(page, base, variables)
    screenshot(page, "env-variables-before")

    form = page.locator("form", has=page.get_by_role("button", name="Add variable"))
    form.get_by_label("Category").select_option("terraform")
    form.get_by_label("Key").fill("db_password")
    form.get_by_label("Value").fill(SECRET)
    form.get_by_label("Sensitive").check()
    form.get_by_role("button", name="Add variable").click()
    page.get_by_text("Variable db_password added.").wait_for()
    screenshot(page, "env-variables-after")

    variable = environment.variables.get(key="db_password")
    assert variable.sensitive is True
    assert variable.value == SECRET
    assert SECRET not in page.content()
    row = page.get_by_role("row", name="db_password")
    assert "sensitive" in row.inner_text()

    row.get_by_role("link", name="Edit db_password").click()
    page.get_by_role("heading", name="Edit db_password").wait_for()
    assert page.get_by_label("Value").input_value() == ""
    assert SECRET not in page.content()
    screenshot(page, "env-variable-edit")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Variable db_password saved.").wait_for()
    variable.refresh_from_db()
    assert variable.value == SECRET

    for path in ("", "/versions", "/settings", "/variables"):
        page.goto(f"{base}/environments/acme/app{path}")
        assert SECRET not in page.content()
        screenshot(page, f"env-page{path.replace('/', '-') or '-overview'}")
    page.goto(f"{base}/environments?namespace=acme")
    screenshot(page, "env-list")


def test_an_admin_locks_unlocks_and_deletes_an_environment(
    live_server,
    personas,
    browser_page,
    screenshot,
):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    page = browser_page
    base = live_server.url
    sign_in(page, base, "/environments/acme/app/settings", username="admin")
    screenshot(page, "env-settings-admin")

    page.get_by_label("Reason").fill("Upgrading the database")
    page.get_by_role("button", name="Lock", exact=True).click()
    page.get_by_text("Environment locked.").wait_for()
    assert page.get_by_text("Locked by admin").first.is_visible()
    screenshot(page, "env-settings-locked")
    environment.refresh_from_db()
    assert (environment.locked, environment.lock_reason) == (True, "Upgrading the database")

    page.get_by_role("button", name="Unlock").click()
    page.get_by_text("Environment unlocked.").wait_for()
    environment.refresh_from_db()
    assert environment.locked is False

    page.get_by_label("Type acme/app to delete it").fill("acme/app")
    page.get_by_role("button", name="Delete acme/app").click()
    page.get_by_text("Environment acme/app deleted.").wait_for()
    assert page.url == f"{base}/environments?namespace=acme"
    assert not type(environment).objects.filter(pk=environment.pk).exists()
