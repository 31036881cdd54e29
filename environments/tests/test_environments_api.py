"""The environments API: list, create, read, change, delete, lock and unlock."""

import pytest

from accounts.tests.factories import UserFactory, organization, token_for
from atlas.blobs import blob_exists
from conftest import api_client
from environments import hooks
from environments.models import ConfigurationVersion, Environment, Variable
from environments.services.uploads import receive_upload
from environments.tests.factories import (
    ConfigurationVersionFactory,
    EnvironmentFactory,
    VariableFactory,
    good_archive,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/environments"


def upload(version, body=None):
    body = good_archive() if body is None else body
    chunks = iter([body])
    return receive_upload(version.secret, lambda n: next(chunks, b""), len(body))


def test_the_list_shows_only_environments_the_caller_can_read(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    other = organization("other", personas.outsider.user)
    Environment.objects.create(namespace=other.namespace, name="secret")
    Environment.objects.create(namespace=personas.reader.user.namespace, name="mine")
    response = personas.reader.client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert [(e["username"], e["name"]) for e in body["environments"]] == [
        ("acme", "app"),
        ("reader", "mine"),
    ]
    assert body["meta"] == {"total": 2, "page": 1, "per_page": 20}


def test_the_list_filters_by_username_and_paginates(personas):
    for name in ("a", "b", "c"):
        EnvironmentFactory(namespace=personas.org.namespace, name=name)
    Environment.objects.create(namespace=personas.writer.user.namespace, name="own")
    response = personas.writer.client.get(f"{URL}?username=ACME&per_page=2&page=2")
    assert response.status_code == 200
    assert [e["name"] for e in response.json()["environments"]] == ["c"]
    assert response.json()["meta"] == {"total": 3, "page": 2, "per_page": 2}
    assert personas.writer.client.get(f"{URL}?page=0").status_code == 400


def test_a_listed_environment_shows_its_latest_version_and_lock(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    ConfigurationVersionFactory(environment=environment)
    ConfigurationVersionFactory(environment=environment)
    Environment.objects.filter(pk=environment.pk).update(
        locked=True, lock_reason="maintenance", locked_by=personas.admin.user
    )
    item = personas.reader.client.get(URL).json()["environments"][0]
    assert item["latest_version"] == 2
    assert item["locked"] is True
    assert item["lock"]["holder"] == "admin"
    assert item["lock"]["reason"] == "maintenance"


def test_the_list_costs_the_same_queries_for_one_or_many_environments(
    personas, django_assert_num_queries
):
    client = personas.reader.client
    EnvironmentFactory(namespace=personas.org.namespace, name="first")
    client.get(URL)  # records the token's last use
    with django_assert_num_queries(3):  # token, count, page
        assert len(client.get(URL).json()["environments"]) == 1
    for index in range(6):
        environment = EnvironmentFactory(namespace=personas.org.namespace, name=f"more{index}")
        ConfigurationVersionFactory(environment=environment)
        Environment.objects.filter(pk=environment.pk).update(
            locked=True, locked_by=personas.admin.user
        )
    with django_assert_num_queries(3):
        assert len(client.get(URL).json()["environments"]) == 7


def test_a_writer_creates_an_environment(personas):
    response = personas.writer.client.post(
        URL, {"environment": {"username": "acme", "name": "app", "auto_apply": True}}
    )
    assert response.status_code == 201
    body = response.json()["environment"]
    assert body["username"] == "acme"
    assert body["name"] == "app"
    assert body["auto_apply"] is True
    assert body["latest_version"] is None
    environment = Environment.objects.get(name="app")
    assert environment.namespace.name == "acme"
    assert environment.auto_apply is True
    assert environment.created_by == personas.writer.user


def test_creating_with_a_form_gives_the_same_environment_as_json(personas):
    response = personas.writer.client.post(
        URL,
        "environment[username]=acme&environment[name]=app&environment[auto_apply]=true",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201
    json_response = personas.writer.client.post(
        URL, {"environment": {"username": "acme", "name": "app2", "auto_apply": True}}
    )
    form_body, json_body = response.json()["environment"], json_response.json()["environment"]
    for key in ("username", "auto_apply", "locked", "lock", "latest_version"):
        assert form_body[key] == json_body[key]
    assert Environment.objects.filter(auto_apply=True).count() == 2


def test_a_taken_name_in_any_case_is_a_422_on_name(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    response = personas.admin.client.post(URL, {"environment": {"username": "acme", "name": "APP"}})
    assert response.status_code == 422
    assert response.json() == {"errors": {"name": ["has already been taken"]}}
    assert Environment.objects.count() == 1


@pytest.mark.parametrize("name", [".hidden", "", "a" * 65, "with space", "slash/es", "ü"])
def test_an_invalid_name_is_a_422_naming_the_field(personas, name):
    response = personas.admin.client.post(URL, {"environment": {"username": "acme", "name": name}})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["name"]
    assert not Environment.objects.exists()


def test_creating_without_a_username_is_a_422_and_without_an_envelope_a_400(personas):
    response = personas.admin.client.post(URL, {"environment": {"name": "app"}})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["username"]
    assert personas.admin.client.post(URL, {"name": "app"}).status_code == 400
    assert not Environment.objects.exists()


def test_a_reader_may_not_create_and_an_outsider_cannot_see_the_namespace(personas):
    body = {"environment": {"username": "acme", "name": "app"}}
    assert personas.reader.client.post(URL, body).status_code == 403
    assert personas.outsider.client.post(URL, body).status_code == 404
    missing = {"environment": {"username": "nobody", "name": "app"}}
    assert personas.admin.client.post(URL, missing).status_code == 404
    assert not Environment.objects.exists()


def test_reading_an_environment_is_case_insensitive(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="App")
    response = personas.reader.client.get(f"{URL}/ACME/app")
    assert response.status_code == 200
    assert response.json()["environment"]["name"] == "App"


def test_an_admin_turns_auto_apply_on(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    response = personas.admin.client.patch(f"{URL}/acme/app", {"environment": {"auto_apply": True}})
    assert response.status_code == 200
    assert response.json()["environment"]["auto_apply"] is True
    environment.refresh_from_db()
    assert environment.auto_apply is True


def test_a_writer_may_not_change_settings(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    response = personas.writer.client.patch(
        f"{URL}/acme/app", {"environment": {"auto_apply": True}}
    )
    assert response.status_code == 403
    environment.refresh_from_db()
    assert environment.auto_apply is False


def test_a_non_boolean_auto_apply_is_a_422(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    response = personas.admin.client.patch(
        f"{URL}/acme/app", {"environment": {"auto_apply": "perhaps"}}
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["auto_apply"]


def test_deleting_removes_the_environment_its_rows_and_blobs_and_nothing_else(
    personas, django_capture_on_commit_callbacks
):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    neighbour = EnvironmentFactory(namespace=personas.org.namespace, name="neighbour")
    VariableFactory(environment=environment, key="a")
    VariableFactory(environment=neighbour, key="b")
    version = upload(ConfigurationVersionFactory(environment=environment))
    kept = upload(ConfigurationVersionFactory(environment=neighbour))
    assert blob_exists(version.archive_name)
    with django_capture_on_commit_callbacks(execute=True):
        response = personas.admin.client.delete(f"{URL}/acme/app")
    assert response.status_code == 204
    assert not Environment.objects.filter(pk=environment.pk).exists()
    assert not Variable.objects.filter(environment_id=environment.pk).exists()
    assert not ConfigurationVersion.objects.filter(environment_id=environment.pk).exists()
    assert not blob_exists(version.archive_name)
    assert Variable.objects.filter(environment=neighbour).count() == 1
    assert blob_exists(kept.archive_name)


def test_only_an_admin_deletes(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    assert personas.writer.client.delete(f"{URL}/acme/app").status_code == 403
    assert personas.outsider.client.delete(f"{URL}/acme/app").status_code == 404
    assert Environment.objects.filter(name="app").exists()


def test_an_admin_locks_with_a_reason_and_the_lock_shows_holder_and_reason(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    response = personas.admin.client.post(f"{URL}/acme/app/lock", {"reason": "db migration"})
    assert response.status_code == 200
    lock = response.json()["environment"]["lock"]
    assert lock["holder"] == "admin"
    assert lock["reason"] == "db migration"
    environment.refresh_from_db()
    assert environment.locked is True
    assert environment.locked_by == personas.admin.user
    assert environment.lock_reason == "db migration"
    assert personas.reader.client.get(f"{URL}/acme/app").json()["environment"]["lock"] == lock


def test_locking_needs_a_reason_and_an_unlocked_environment(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    client = personas.admin.client
    response = client.post(f"{URL}/acme/app/lock", {})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["reason"]
    assert client.post(f"{URL}/acme/app/lock", {"reason": "one"}).status_code == 200
    response = client.post(f"{URL}/acme/app/lock", {"reason": "two"})
    assert response.status_code == 409
    assert "already locked by admin: one" in response.json()["errors"]["base"][0]
    assert Environment.objects.get(name="app").lock_reason == "one"


def test_the_holder_unlocks_and_unlocking_an_unlocked_environment_is_a_409(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    client = personas.admin.client
    client.post(f"{URL}/acme/app/lock", {"reason": "r"})
    response = client.post(f"{URL}/acme/app/unlock", {})
    assert response.status_code == 200
    assert response.json()["environment"]["lock"] is None
    assert Environment.objects.get(name="app").locked is False
    assert client.post(f"{URL}/acme/app/unlock", {}).status_code == 409


def test_a_lock_held_by_someone_else_needs_force_and_the_runs_app_is_told(
    personas, monkeypatch, django_capture_on_commit_callbacks
):
    second_admin = UserFactory(username="second")
    from accounts.models import Level
    from accounts.tests.factories import member

    member(personas.org, second_admin, Level.ADMIN)
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    Environment.objects.filter(pk=environment.pk).update(
        locked=True, lock_reason="run 7 is applying", locked_by=None
    )
    told = []
    monkeypatch.setattr(hooks, "environment_force_unlocked", lambda *args: told.append(args))
    client = api_client(token_for(second_admin))
    response = client.post(f"{URL}/acme/app/unlock", {})
    assert response.status_code == 409
    assert "locked by a run" in response.json()["errors"]["base"][0]
    assert Environment.objects.get(pk=environment.pk).locked is True
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}/acme/app/unlock", {"force": True, "reason": "stuck"})
    assert response.status_code == 200
    assert Environment.objects.get(pk=environment.pk).locked is False
    assert len(told) == 1
    assert told[0][1] == second_admin
    assert told[0][2:] == ("a run", "stuck")


def test_only_an_admin_locks_or_unlocks(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    assert personas.writer.client.post(f"{URL}/acme/app/lock", {"reason": "x"}).status_code == 403
    assert personas.outsider.client.post(f"{URL}/acme/app/lock", {"reason": "x"}).status_code == 404
    personas.admin.client.post(f"{URL}/acme/app/lock", {"reason": "x"})
    assert personas.writer.client.post(f"{URL}/acme/app/unlock", {}).status_code == 403
    environment.refresh_from_db()
    assert environment.locked is True


def test_deleting_also_removes_blobs_other_apps_keep_for_the_environment(
    personas, django_capture_on_commit_callbacks
):
    """State versions (the states app) cascade with the environment; their
    blobs are found through `blob_fields` like ours and removed too."""
    from atlas.blobs import write_blob
    from states.models import StateVersion

    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    info = write_blob("states/test", [b'{"serial": 1}'])
    StateVersion.objects.create(
        environment=environment,
        serial=1,
        md5=info.md5_hex,
        sha256=info.sha256_hex,
        size=info.size,
        blob_name=info.name,
        blob_key_id=info.key_id,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert personas.admin.client.delete(f"{URL}/acme/app").status_code == 204
    assert not StateVersion.objects.exists()
    assert not blob_exists(info.name)
