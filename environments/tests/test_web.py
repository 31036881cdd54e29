"""The environments web UI: pages, forms, permissions, query counts."""

import pytest
from django.test import Client

from atlas.blobs import read_blob
from environments.models import ConfigurationVersion, Environment, Variable
from environments.services import receive_upload
from environments.tests.factories import (
    ConfigurationVersionFactory,
    EnvironmentFactory,
    VariableFactory,
    good_archive,
)
from runs.models import Status
from runs.tests.factories import RunFactory

pytestmark = pytest.mark.django_db

PAGE = "/environments/acme/app"


@pytest.fixture
def web(personas):
    """A signed-in browser client per persona."""
    clients = {}
    for name in ("admin", "writer", "reader", "outsider"):
        client = Client()
        client.force_login(getattr(personas, name).user)
        clients[name] = client
    return clients


@pytest.fixture
def environment(personas):
    return EnvironmentFactory(namespace=personas.org.namespace, name="app")


def finished_version(environment):
    version = ConfigurationVersionFactory(environment=environment)
    body = good_archive()
    chunks = iter([body])
    return receive_upload(version.secret, lambda n: next(chunks, b""), len(body))


def test_pages_need_a_signed_in_user(environment):
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login")


def test_the_list_filters_by_namespace(web, personas, environment):
    Environment.objects.create(namespace=personas.reader.user.namespace, name="personal")
    page = web["reader"].get("/environments").content.decode()
    assert "personal" in page and ">app<" in page
    page = web["reader"].get("/environments?namespace=acme").content.decode()
    assert ">app<" in page
    assert "personal" not in page


def test_the_list_costs_the_same_queries_for_one_or_many(
    web, environment, django_assert_num_queries
):
    client = web["reader"]
    client.get("/environments")
    # session, user, writable namespaces, count, page, the page's latest runs
    with django_assert_num_queries(6) as one:
        assert client.get("/environments").status_code == 200
    for index in range(5):
        more = EnvironmentFactory(namespace=environment.namespace, name=f"more{index}")
        ConfigurationVersionFactory(environment=more)
        RunFactory(environment=more, status=Status.ERRORED, error_text="Error: boom")
    with django_assert_num_queries(len(one)):
        assert client.get("/environments").status_code == 200


def test_the_list_shows_each_environments_latest_run_and_why_it_errored(web, environment):
    version = ConfigurationVersionFactory(environment=environment)
    RunFactory(environment=environment, configuration_version=version, status=Status.APPLIED)
    failed = RunFactory(
        environment=environment,
        configuration_version=version,
        status=Status.ERRORED,
        message="terraform plan failed (exit status 1).",
        error_text="Error: Unsupported argument\n\n  on main.tf line 3",
    )
    page = web["reader"].get("/environments").content.decode()
    assert f"/runs/{failed.pk}" in page
    assert 'data-run-status="errored"' in page
    assert "Error: Unsupported argument" in page
    assert 'data-run-status="applied"' not in page  # only the latest run


def test_the_list_searches_names_and_namespaces(web, environment):
    EnvironmentFactory(namespace=environment.namespace, name="network")
    client = web["reader"]
    for query, shown, hidden in [
        ("NET", "network", '/environments/acme/app"'),
        ("acme/ap", '/environments/acme/app"', "network"),
    ]:
        page = client.get("/environments", {"q": query}).content.decode()
        assert shown in page and hidden not in page, query
    page = client.get("/environments", {"q": "nothing"}).content.decode()
    assert "No environment matches “nothing”." in page


def test_a_writer_creates_an_environment_from_the_list(web):
    response = web["writer"].post(
        "/environments/new", {"namespace": "acme", "name": "fresh", "auto_apply": "on"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/environments/acme/fresh"
    assert Environment.objects.get(name="fresh").auto_apply is True


def test_a_taken_name_shows_the_error_on_the_form(web, environment):
    response = web["writer"].post("/environments/new", {"namespace": "acme", "name": "APP"})
    assert response.status_code == 200
    assert "has already been taken" in response.content.decode()
    assert Environment.objects.count() == 1


def test_a_reader_cannot_create_in_an_organization(web, environment):
    response = web["reader"].post("/environments/new", {"namespace": "acme", "name": "nope"})
    assert response.status_code == 200  # acme is not among the reader's choices
    assert not Environment.objects.filter(name="nope").exists()


def test_the_overview_shows_latest_version_lock_and_state_link(web, personas, environment):
    finished_version(environment)
    Environment.objects.filter(pk=environment.pk).update(
        locked=True, lock_reason="freeze for audit", locked_by=personas.admin.user
    )
    page = web["reader"].get(PAGE).content.decode()
    assert "v1" in page
    assert "finished" in page
    assert "freeze for audit" in page
    assert 'href="/environments/acme/app/state"' in page


def test_outsiders_get_a_404_and_readers_a_403_on_writes(web, environment):
    assert web["outsider"].get(PAGE).status_code == 404
    assert web["outsider"].get(f"{PAGE}/variables").status_code == 404
    response = web["reader"].post(f"{PAGE}/variables/new", {"category": "terraform", "key": "a"})
    assert response.status_code == 403
    assert web["reader"].post(f"{PAGE}/settings/lock", {"reason": "x"}).status_code == 403
    assert web["writer"].post(f"{PAGE}/settings/lock", {"reason": "x"}).status_code == 403
    assert not environment.variables.exists()
    environment.refresh_from_db()
    assert environment.locked is False


def test_a_sensitive_variable_is_write_only(web, environment):
    client = web["writer"]
    response = client.post(
        f"{PAGE}/variables/new",
        {"category": "terraform", "key": "password", "value": "hunter2-secret", "sensitive": "on"},
    )
    assert response.status_code == 302
    variable = environment.variables.get(key="password")
    assert variable.sensitive is True
    assert variable.value == "hunter2-secret"
    for url in (PAGE, f"{PAGE}/variables", f"{PAGE}/variables/{variable.pk}/edit"):
        page = client.get(url).content.decode()
        assert "hunter2-secret" not in page
    # saving the edit form with an empty value keeps the secret
    response = client.post(f"{PAGE}/variables/{variable.pk}/edit", {"value": "", "sensitive": "on"})
    assert response.status_code == 302
    variable.refresh_from_db()
    assert variable.value == "hunter2-secret"


def test_a_sensitive_variable_turns_plain_only_with_a_new_value(web, environment):
    variable = VariableFactory(environment=environment, key="pw", value="secret", sensitive=True)
    url = f"{PAGE}/variables/{variable.pk}/edit"
    response = web["writer"].post(url, {"value": ""})
    assert response.status_code == 200
    assert "enter a new value" in response.content.decode()
    variable.refresh_from_db()
    assert variable.sensitive is True
    assert web["writer"].post(url, {"value": "public"}).status_code == 302
    variable.refresh_from_db()
    assert (variable.value, variable.sensitive) == ("public", False)


def test_variables_are_added_edited_and_deleted(web, environment):
    client = web["writer"]
    client.post(
        f"{PAGE}/variables/new",
        {"category": "env", "key": "AWS_REGION", "value": "eu-west-1"},
    )
    client.post(
        f"{PAGE}/variables/new",
        {"category": "terraform", "key": "zones", "value": '["a", "b"]', "hcl": "on"},
    )
    zones = environment.variables.get(key="zones")
    assert (zones.category, zones.hcl, zones.value) == ("terraform", True, '["a", "b"]')
    page = client.get(f"{PAGE}/variables").content.decode()
    assert "eu-west-1" in page
    client.post(f"{PAGE}/variables/{zones.pk}/edit", {"value": '["c"]', "hcl": "on"})
    zones.refresh_from_db()
    assert zones.value == '["c"]'
    client.post(f"{PAGE}/variables/{zones.pk}/delete")
    assert list(environment.variables.values_list("key", flat=True)) == ["AWS_REGION"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"category": "env", "key": "with-dash", "value": "x"}, "not a valid variable name"),
        ({"category": "terraform", "key": "dup", "value": "x"}, "already exists"),
    ],
)
def test_variable_form_errors_are_shown(web, environment, data, message):
    VariableFactory(environment=environment, key="dup")
    response = web["writer"].post(f"{PAGE}/variables/new", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert environment.variables.count() == 1


def test_a_variable_of_another_environment_is_a_404(web, environment):
    other = VariableFactory(
        environment=EnvironmentFactory(namespace=environment.namespace, name="other"), key="x"
    )
    assert web["writer"].get(f"{PAGE}/variables/{other.pk}/edit").status_code == 404
    assert web["writer"].post(f"{PAGE}/variables/{other.pk}/delete").status_code == 404
    assert Variable.objects.filter(pk=other.pk).exists()


def test_versions_show_status_and_writers_download_the_archive(web, personas, environment):
    version = finished_version(environment)
    errored = ConfigurationVersionFactory(environment=environment)
    ConfigurationVersion.objects.filter(pk=errored.pk).update(
        status="errored", error="The archive was refused: bad"
    )
    page = web["reader"].get(f"{PAGE}/versions").content.decode()
    assert "The archive was refused: bad" in page
    assert "/versions/1/archive" not in page
    assert web["reader"].get(f"{PAGE}/versions/1/archive").status_code == 403
    response = web["writer"].get(f"{PAGE}/versions/1/archive")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="acme-app-v1.tar.gz"'
    body = b"".join(response.streaming_content)
    assert body == read_blob(version.archive_name) == good_archive()
    assert web["writer"].get(f"{PAGE}/versions/2/archive").status_code == 404


def test_an_admin_turns_auto_apply_on_and_off(web, environment):
    web["admin"].post(f"{PAGE}/settings/auto-apply", {"auto_apply": "on"})
    environment.refresh_from_db()
    assert environment.auto_apply is True
    web["admin"].post(f"{PAGE}/settings/auto-apply", {})
    environment.refresh_from_db()
    assert environment.auto_apply is False
    assert (
        web["writer"].post(f"{PAGE}/settings/auto-apply", {"auto_apply": "on"}).status_code == 403
    )


def test_an_admin_locks_and_unlocks_with_a_reason(web, personas, environment):
    client = web["admin"]
    assert client.post(f"{PAGE}/settings/lock", {"reason": ""}).status_code == 200
    assert client.post(f"{PAGE}/settings/lock", {"reason": "upgrade"}).status_code == 302
    environment.refresh_from_db()
    assert (environment.locked, environment.lock_reason) == (True, "upgrade")
    assert environment.locked_by == personas.admin.user
    page = client.get(f"{PAGE}/settings").content.decode()
    assert "upgrade" in page and "Unlock" in page
    assert client.post(f"{PAGE}/settings/unlock", {"reason": "done"}).status_code == 302
    environment.refresh_from_db()
    assert environment.locked is False


def test_a_run_lock_needs_the_force_unlock(web, environment):
    Environment.objects.filter(pk=environment.pk).update(locked=True, lock_reason="run 3")
    client = web["admin"]
    page = client.get(f"{PAGE}/settings").content.decode()
    assert "Force unlock" in page
    response = client.post(f"{PAGE}/settings/unlock", {})
    assert response.status_code == 200
    assert "Force the unlock" in response.content.decode()
    assert client.post(f"{PAGE}/settings/force-unlock", {}).status_code == 302
    environment.refresh_from_db()
    assert environment.locked is False


def test_deleting_needs_the_typed_name(web, environment, django_capture_on_commit_callbacks):
    client = web["admin"]
    response = client.post(f"{PAGE}/settings/delete", {"confirm": "app"})
    assert response.status_code == 200
    assert "Type acme/app exactly" in response.content.decode()
    assert 'name="confirm" id="id_confirm" value="app"' in response.content.decode()
    assert Environment.objects.filter(pk=environment.pk).exists()
    assert web["writer"].post(f"{PAGE}/settings/delete", {"confirm": "acme/app"}).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{PAGE}/settings/delete", {"confirm": "acme/app"})
    assert response.status_code == 302
    assert response["Location"] == "/environments?namespace=acme"
    assert not Environment.objects.filter(pk=environment.pk).exists()


def test_settings_are_read_only_for_non_admins(web, environment):
    page = web["writer"].get(f"{PAGE}/settings").content.decode()
    assert "Only admins" in page
    assert "settings/lock" not in page
    assert "settings/delete" not in page


def test_the_overview_shows_the_state_head_from_the_states_app(web, environment):
    from states.models import EnvironmentState, StateVersion

    head = StateVersion.objects.create(
        environment=environment, serial=41, md5="0" * 32, sha256="0" * 64, size=2, blob_name="x"
    )
    EnvironmentState.objects.create(
        environment=environment, namespace=environment.namespace, head=head, max_serial=41
    )
    page = web["reader"].get(PAGE).content.decode()
    assert "#41" in page


def test_every_page_renders_for_an_empty_environment(web, environment):
    page = web["reader"].get(PAGE).content.decode()
    assert "Nothing pushed yet" in page
    assert "No state stored yet" in page
    for path in ("/variables", "/versions", "/settings"):
        assert web["reader"].get(f"{PAGE}{path}").status_code == 200
    empty = web["outsider"].get("/environments").content.decode()
    assert "No environments" in empty


def test_the_list_pages_keep_the_namespace_filter(web, personas):
    from environments.views import pages

    for index in range(pages.PER_PAGE + 1):
        EnvironmentFactory(namespace=personas.org.namespace, name=f"env{index:03d}")
    first = web["reader"].get("/environments?namespace=acme").content.decode()
    assert 'href="?namespace=acme&amp;page=2"' in first
    second = web["reader"].get("/environments?namespace=acme&page=2").content.decode()
    assert "env" + f"{pages.PER_PAGE:03d}" in second
    assert 'href="?namespace=acme&amp;page=1"' in second


def test_destructive_one_click_actions_ask_first(web, environment):
    VariableFactory(environment=environment, key="region")
    page = web["writer"].get(f"{PAGE}/variables").content.decode()
    assert 'data-confirm="Delete the variable region? Runs no longer get it."' in page
    page = web["writer"].get("/settings/tokens").content.decode()
    tokens = page[page.index("Your tokens") :]
    assert 'data-confirm="Revoke the token' in tokens


def test_the_favicon_and_the_admins_name(web):
    response = web["admin"].get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("atlas/favicon.svg")
    from django.contrib import admin

    assert admin.site.site_header == "Atlas administration"
