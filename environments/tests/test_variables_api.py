"""`PUT /api/v1/environments/:username/:name/variables`, as the user's document shows it."""

import json

import pytest
from django.db import connection

from environments.models import Variable
from environments.services import REDACTED
from environments.tests.factories import EnvironmentFactory, VariableFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/environments/acme/test/variables"


def stored(environment):
    """{key: (value, hcl, sensitive)} of the environment's Terraform variables."""
    return {
        v.key: (v.value, v.hcl, v.sensitive)
        for v in environment.variables.filter(category=Variable.Category.TERRAFORM)
    }


@pytest.fixture
def environment(personas):
    return EnvironmentFactory(namespace=personas.org.namespace, name="test")


def test_the_documents_json_example_stores_the_variables_and_echoes_nothing(personas, environment):
    # $ curl .../variables -X PUT -H 'Content-Type: application/json' -d @variables.json
    body = json.dumps({"variables": {"desired_capacity": "15", "foo": "bar"}})
    response = personas.writer.client.put(URL, body, content_type="application/json")
    assert response.status_code == 200
    assert response.content == b""
    assert stored(environment) == {
        "desired_capacity": ("15", False, False),
        "foo": ("bar", False, False),
    }


def test_the_documents_form_example_stores_identical_variables(personas, environment):
    # $ curl .../variables -X PUT -d variables[foo]='bar' -d variables[desired_capacity]='15'
    other = EnvironmentFactory(namespace=personas.org.namespace, name="other")
    form = "variables[foo]=bar&variables[desired_capacity]=15"
    response = personas.writer.client.put(
        URL, form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert response.content == b""
    json_response = personas.writer.client.put(
        "/api/v1/environments/acme/other/variables",
        {"variables": {"desired_capacity": "15", "foo": "bar"}},
        format="json",
    )
    assert json_response.status_code == 200
    assert (
        stored(environment)
        == stored(other)
        == {
            "desired_capacity": ("15", False, False),
            "foo": ("bar", False, False),
        }
    )


def test_an_empty_value_removes_the_key_and_keys_not_sent_are_untouched(personas, environment):
    VariableFactory(environment=environment, key="keep", value="1")
    VariableFactory(environment=environment, key="drop", value="2")
    VariableFactory(environment=environment, key="change", value="3")
    response = personas.writer.client.put(
        URL, {"variables": {"drop": "", "change": "three", "absent": ""}}, format="json"
    )
    assert response.status_code == 200
    assert stored(environment) == {"keep": ("1", False, False), "change": ("three", False, False)}


def test_an_empty_form_value_also_removes_the_key(personas, environment):
    VariableFactory(environment=environment, key="drop", value="2")
    response = personas.writer.client.put(
        URL, "variables[drop]=", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert stored(environment) == {}


@pytest.mark.parametrize("value", [15, 1.5, True, None, ["a"], {"nested": "x"}])
def test_a_non_string_value_is_a_422_naming_the_key_and_nothing_changes(
    personas, environment, value
):
    VariableFactory(environment=environment, key="foo", value="old")
    response = personas.writer.client.put(
        URL, {"variables": {"foo": "new", "count": value}}, format="json"
    )
    assert response.status_code == 422
    assert response.json() == {"errors": {"count": ["must be a string"]}}
    assert stored(environment) == {"foo": ("old", False, False)}


def test_a_nested_form_value_is_a_422_naming_the_key(personas, environment):
    response = personas.writer.client.put(
        URL, "variables[foo][bar]=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 422
    assert response.json() == {"errors": {"foo": ["must be a string"]}}
    assert stored(environment) == {}


def test_a_value_of_256_kib_is_accepted_and_one_byte_more_is_refused(personas, environment):
    client = personas.writer.client
    limit = 256 * 1024
    assert client.put(URL, {"variables": {"big": "x" * limit}}, format="json").status_code == 200
    response = client.put(URL, {"variables": {"big": "é" * (limit // 2) + "x"}}, format="json")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["big"]
    assert stored(environment)["big"][0] == "x" * limit


@pytest.mark.parametrize("key", ["1abc", "with space", "dot.ted", "-dash"])
def test_an_invalid_key_is_a_422_naming_it(personas, environment, key):
    response = personas.writer.client.put(URL, {"variables": {key: "v"}}, format="json")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [key]
    assert stored(environment) == {}


def test_a_body_without_the_variables_envelope_is_a_400(personas, environment):
    response = personas.writer.client.put(URL, {"foo": "bar"}, format="json")
    assert response.status_code == 400
    assert "variables" in response.json()["errors"]
    response = personas.writer.client.put(URL, {"variables": "foo"}, format="json")
    assert response.status_code == 400


def test_overwriting_a_sensitive_or_hcl_variable_keeps_it_sensitive_and_makes_it_a_string(
    personas, environment
):
    VariableFactory(environment=environment, key="password", value="old", sensitive=True)
    VariableFactory(environment=environment, key="list", value='["a"]', hcl=True)
    response = personas.writer.client.put(
        URL, {"variables": {"password": "new", "list": "plain"}}, format="json"
    )
    assert response.status_code == 200
    assert stored(environment) == {
        "password": ("new", False, True),
        "list": ("plain", False, False),
    }


def test_process_environment_variables_are_not_touched(personas, environment):
    VariableFactory(environment=environment, key="foo", value="env", category="env")
    personas.writer.client.put(URL, {"variables": {"foo": "tf"}}, format="json")
    categories = dict(environment.variables.values_list("category", "key"))
    assert categories == {"env": "foo", "terraform": "foo"}
    assert environment.variables.get(category="env").value == "env"


def test_values_are_sealed_in_the_database(personas, environment):
    personas.writer.client.put(URL, {"variables": {"secret": "hunter2-plaintext"}}, format="json")
    with connection.cursor() as cursor:
        cursor.execute("SELECT value_sealed FROM environments_variable")
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert "hunter2" not in rows[0][0]
    assert stored(environment)["secret"][0] == "hunter2-plaintext"


def test_an_unknown_environment_is_a_404_and_is_not_created(personas):
    response = personas.writer.client.put(
        "/api/v1/environments/acme/nothing/variables", {"variables": {"a": "b"}}, format="json"
    )
    assert response.status_code == 404
    assert not Variable.objects.exists()


def test_the_redaction_marker_is_stored_literally_through_this_endpoint(personas, environment):
    personas.writer.client.put(URL, {"variables": {"odd": REDACTED}}, format="json")
    assert stored(environment) == {"odd": (REDACTED, False, False)}


def test_updating_many_variables_costs_a_constant_number_of_queries(
    personas, environment, django_assert_max_num_queries
):
    client = personas.writer.client
    client.put(URL, {"variables": {"warm": "up"}}, format="json")
    many = {f"key{index}": f"value{index}" for index in range(50)}
    with django_assert_max_num_queries(12):
        assert client.put(URL, {"variables": many}, format="json").status_code == 200
    changed = {key: value + "!" for key, value in many.items()}
    changed["warm"] = ""
    with django_assert_max_num_queries(12):
        assert client.put(URL, {"variables": changed}, format="json").status_code == 200
    assert len(stored(environment)) == 50
