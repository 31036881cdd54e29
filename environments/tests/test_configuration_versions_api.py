"""Configuration versions: what `terraform push` 0.11 sends and reads back."""

import ipaddress
import json

import pytest

from environments.models import ConfigurationVersion, Environment, Variable
from environments.services import REDACTED
from environments.tests.factories import ConfigurationVersionFactory, EnvironmentFactory
from environments.tests.factories import VariableFactory as Var

pytestmark = pytest.mark.django_db

BASE = "/api/v1/terraform/configurations/acme/app/versions"
# Byte for byte what Terraform 0.11.11 posts (atlas-go's TerraformConfigVersion).
PUSH_BODY = (
    '{"version":{"Version":0,"remotes":null,"metadata":null,'
    '"tf_vars":[{"key":"greeting","value":"hi","hcl":false}]}}'
)


def push(client, body=PUSH_BODY):
    return client.post(BASE, body, content_type="application/json")


def terraform_vars(environment):
    return {
        v.key: (v.value, v.hcl, v.sensitive)
        for v in environment.variables.filter(category=Variable.Category.TERRAFORM)
    }


def test_latest_is_a_404_before_the_first_push(personas):
    assert personas.writer.client.get(f"{BASE}/latest").status_code == 404
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    response = personas.writer.client.get(f"{BASE}/latest")
    assert response.status_code == 404
    assert response.json() == {"errors": {"base": ["Not found."]}}


def test_the_first_push_creates_the_environment_and_version_1(personas):
    response = push(personas.writer.client)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"version", "upload_path", "token"}
    assert body["version"] == 1
    assert body["upload_path"] == (
        f"http://testserver/api/v1/terraform/configuration-uploads/{body['token']}"
    )
    environment = Environment.objects.get(namespace__name="acme", name="app")
    version = environment.configuration_versions.get()
    assert version.number == 1
    assert version.status == "pending"
    assert version.created_by == personas.writer.user
    assert version.tf_vars() == [{"key": "greeting", "value": "hi", "hcl": False}]
    assert terraform_vars(environment) == {"greeting": ("hi", False, False)}
    assert body["token"] not in version.upload_secret_digest


def test_version_numbers_count_up_per_environment_from_1(personas):
    client = personas.writer.client
    assert [push(client).json()["version"] for _ in range(3)] == [1, 2, 3]
    other = client.post(
        "/api/v1/terraform/configurations/acme/other/versions",
        PUSH_BODY,
        content_type="application/json",
    )
    assert other.json()["version"] == 1


def test_latest_returns_the_environments_current_variables_for_push_to_send_back(personas):
    client = personas.writer.client
    push(client)
    client.put(
        "/api/v1/environments/acme/app/variables", {"variables": {"region": "eu"}}, format="json"
    )
    response = client.get(f"{BASE}/latest")
    assert response.status_code == 200
    assert response.json() == {
        "version": {
            "version": 1,
            "status": "pending",
            "metadata": {},
            "tf_vars": [
                {"key": "greeting", "value": "hi", "hcl": False},
                {"key": "region", "value": "eu", "hcl": False},
            ],
            "variables": {"greeting": "hi", "region": "eu"},
        }
    }


def test_sensitive_values_come_back_redacted_and_the_marker_keeps_the_secret(personas):
    client = personas.writer.client
    push(client)
    environment = Environment.objects.get(name="app")
    Var(environment=environment, key="password", value="s3cret", sensitive=True)
    latest = client.get(f"{BASE}/latest").json()["version"]
    assert {"key": "password", "value": REDACTED, "hcl": False} in latest["tf_vars"]
    assert latest["variables"]["password"] == REDACTED
    assert "s3cret" not in json.dumps(latest)
    # push sends every variable it read back, as it read it
    body = {"version": {"Version": 0, "remotes": None, "metadata": None, **latest}}
    response = client.post(BASE, body, format="json")
    assert response.status_code == 201
    assert terraform_vars(environment)["password"] == ("s3cret", False, True)
    version = environment.configuration_versions.get(number=2)
    assert {"key": "password", "value": "s3cret", "hcl": False} in version.tf_vars()


def test_a_new_value_for_a_sensitive_variable_replaces_it_and_it_stays_sensitive(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    Var(environment=environment, key="password", value="old", sensitive=True)
    body = {"version": {"tf_vars": [{"key": "password", "value": "new", "hcl": False}]}}
    assert personas.writer.client.post(BASE, body, format="json").status_code == 201
    assert terraform_vars(environment) == {"password": ("new", False, True)}


def test_variables_sent_with_a_version_become_the_environments_and_others_stay(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    Var(environment=environment, key="kept", value="1")
    Var(environment=environment, key="list", value="x")
    body = {
        "version": {
            "tf_vars": [
                {"key": "list", "value": '["a", "b"]', "hcl": True},
                {"key": "new", "value": "first"},
                {"key": "new", "value": "second", "hcl": None},
            ]
        }
    }
    assert personas.writer.client.post(BASE, body, format="json").status_code == 201
    assert terraform_vars(environment) == {
        "kept": ("1", False, False),
        "list": ('["a", "b"]', True, False),
        "new": ("second", False, False),
    }


def test_the_documented_atlas_body_with_metadata_and_a_variables_map_is_accepted(personas):
    body = {
        "version": {
            "metadata": {"git_branch": "master", "remote_type": "atlas"},
            "variables": {"ami_id": "ami-123456", "consul_count": "5"},
        }
    }
    response = personas.writer.client.post(BASE, body, format="json")
    assert response.status_code == 201
    environment = Environment.objects.get(name="app")
    version = environment.configuration_versions.get()
    assert version.metadata == {"git_branch": "master", "remote_type": "atlas"}
    assert terraform_vars(environment) == {
        "ami_id": ("ami-123456", False, False),
        "consul_count": ("5", False, False),
    }
    latest = personas.writer.client.get(f"{BASE}/latest").json()["version"]
    assert latest["metadata"] == {"git_branch": "master", "remote_type": "atlas"}


def test_a_form_body_creates_the_same_version_as_json(personas):
    form = (
        "version[metadata][branch]=main&version[tf_vars][0][key]=greeting"
        "&version[tf_vars][0][value]=hi&version[tf_vars][0][hcl]=false"
    )
    response = personas.writer.client.post(
        BASE, form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201
    json_response = personas.writer.client.post(
        "/api/v1/terraform/configurations/acme/json/versions",
        {
            "version": {
                "metadata": {"branch": "main"},
                "tf_vars": [{"key": "greeting", "value": "hi", "hcl": False}],
            }
        },
        format="json",
    )
    assert json_response.status_code == 201
    form_version, json_version = ConfigurationVersion.objects.order_by("environment__name")
    assert form_version.environment.name == "app"
    assert form_version.metadata == json_version.metadata == {"branch": "main"}
    assert form_version.tf_vars() == json_version.tf_vars()


def test_an_empty_body_creates_a_version_without_variables(personas):
    response = personas.writer.client.post(BASE, "", content_type="application/json")
    assert response.status_code == 201
    assert ConfigurationVersion.objects.get().tf_vars() == []


@pytest.mark.parametrize(
    ("version", "field"),
    [
        ({"metadata": {"a": 1}}, "metadata"),
        ({"metadata": ["a"]}, "metadata"),
        ({"tf_vars": {"key": "a"}}, "tf_vars"),
        ({"tf_vars": ["a"]}, "tf_vars"),
        ({"tf_vars": [{"key": "a", "value": 1}]}, "tf_vars"),
        ({"tf_vars": [{"key": "bad key", "value": "1"}]}, "tf_vars"),
        ({"tf_vars": [{"key": "a", "value": "1", "hcl": "maybe"}]}, "tf_vars"),
        ({"variables": {"a": 1}}, "variables"),
    ],
)
def test_invalid_version_bodies_are_a_422_naming_the_field(personas, version, field):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    response = personas.writer.client.post(BASE, {"version": version}, format="json")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert not environment.configuration_versions.exists()
    assert not environment.variables.exists()


def test_upload_path_uses_the_external_url_when_set(personas, settings):
    settings.EXTERNAL_URL = "https://atlas.example.com"
    body = push(personas.writer.client).json()
    assert body["upload_path"] == (
        f"https://atlas.example.com/api/v1/terraform/configuration-uploads/{body['token']}"
    )


def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(personas, settings):
    # As atlas.settings has it once ATLAS_TRUSTED_PROXIES is set.
    settings.USE_X_FORWARDED_HOST = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["testserver", "evil.example", "proxy.example"]
    settings.ATLAS_TRUSTED_PROXIES = [ipaddress.ip_network("192.0.2.10/32")]
    headers = {"HTTP_X_FORWARDED_HOST": "evil.example", "HTTP_X_FORWARDED_PROTO": "https"}
    body = personas.writer.client.post(
        BASE, PUSH_BODY, content_type="application/json", **headers
    ).json()
    assert body["upload_path"].startswith("http://testserver/")
    headers["HTTP_X_FORWARDED_HOST"] = "proxy.example"
    body = personas.writer.client.post(
        BASE, PUSH_BODY, content_type="application/json", REMOTE_ADDR="192.0.2.10", **headers
    ).json()
    assert body["upload_path"].startswith("https://proxy.example/api/v1/terraform/")


def test_the_version_list_is_paginated_newest_first_and_never_shows_variables(
    personas, django_assert_num_queries
):
    client = personas.reader.client
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    ConfigurationVersionFactory(environment=environment, user=personas.writer.user)
    client.get(BASE)
    with django_assert_num_queries(4):  # token, environment with level, count, page
        response = client.get(BASE)
    assert response.status_code == 200
    for _ in range(4):
        ConfigurationVersionFactory(
            environment=environment,
            user=personas.admin.user,
            tf_vars=[{"key": "pw", "value": "hidden-value", "hcl": False}],
        )
    with django_assert_num_queries(4):
        response = client.get(f"{BASE}?per_page=3")
    body = response.json()
    assert [v["version"] for v in body["versions"]] == [5, 4, 3]
    assert body["meta"] == {"total": 5, "page": 1, "per_page": 3}
    assert body["versions"][0]["created_by"] == "admin"
    assert body["versions"][0]["status"] == "pending"
    assert "hidden-value" not in response.content.decode()


def test_a_reader_reads_versions_but_may_not_push(personas):
    ConfigurationVersionFactory(
        environment=EnvironmentFactory(namespace=personas.org.namespace, name="app")
    )
    assert personas.reader.client.get(f"{BASE}/latest").status_code == 200
    assert push(personas.reader.client).status_code == 403
    assert ConfigurationVersion.objects.count() == 1


def test_a_reader_may_not_create_an_environment_by_pushing(personas):
    assert push(personas.reader.client).status_code == 403
    assert push(personas.outsider.client).status_code == 404
    assert not Environment.objects.exists()


def test_pushing_to_an_invalid_environment_name_is_a_422_naming_it(personas):
    response = personas.writer.client.post(
        "/api/v1/terraform/configurations/acme/.hidden/versions",
        PUSH_BODY,
        content_type="application/json",
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["name"]
    assert not Environment.objects.exists()
