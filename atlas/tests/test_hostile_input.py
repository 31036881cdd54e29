"""NUL bytes, lone surrogates, odd numbers and endless pages: 400s, never a 500,
and the same answer on SQLite and PostgreSQL."""

import json

import pytest
from django.test import Client

from environments.models import Environment, Variable
from environments.tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db

MESSAGE = "must not contain NUL bytes or unpaired surrogates"
VARIABLES = "/api/v1/environments/acme/network/variables"
LOCK = "/api/v1/environments/acme/network/lock"


@pytest.fixture
def network(personas):
    return EnvironmentFactory(namespace=personas.org.namespace, name="network")


def put_json(client, url, raw):
    return client.generic("PUT", url, raw, content_type="application/json")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"variables": {"x": "a\\udc00b"}}', "x"),
        ('{"variables": {"x": "a\\u0000b"}}', "x"),
        ('{"variables": {"a\\ud800": "b"}}', "variables"),
        ('{"variables": {"x": ["\\udfff"]}}', "x"),
        ('{"variables\\u0000": {}}', "base"),
    ],
)
def test_hostile_text_in_json_is_a_400_naming_the_field(personas, network, raw, field):
    response = put_json(personas.writer.client, VARIABLES, raw)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [MESSAGE]}}
    assert not Variable.objects.exists()


def test_a_surrogate_pair_is_ordinary_text(personas, network):
    response = put_json(personas.writer.client, VARIABLES, '{"variables": {"x": "\\ud83d\\ude00"}}')
    assert response.status_code == 200
    assert Variable.objects.get().value == "\N{GRINNING FACE}"


@pytest.mark.parametrize("reason", ["down\\u0000for maintenance", "down\\udc00"])
def test_a_lock_reason_with_hostile_text_is_refused_and_nothing_locks(personas, network, reason):
    response = personas.admin.client.generic(
        "POST", LOCK, f'{{"reason": "{reason}"}}', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"reason": [MESSAGE]}}
    assert not Environment.objects.get().locked


def test_a_nul_in_a_form_body_is_refused_like_in_json(personas, network):
    response = personas.writer.client.generic(
        "PUT",
        VARIABLES,
        "variables[x]=a%00b",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"x": [MESSAGE]}}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_without_numbers_of_its_own_is_a_400(personas, network, literal):
    response = put_json(personas.writer.client, VARIABLES, f'{{"variables": {{"x": {literal}}}}}')
    assert response.status_code == 400
    assert "not a JSON number" in response.json()["errors"]["base"][0]


def test_a_number_beyond_python_s_digit_limit_is_a_400(personas, network):
    response = put_json(
        personas.writer.client, VARIABLES, '{"variables": {"x": 1%s}}' % ("0" * 5000)
    )
    assert response.status_code == 400


def test_json_nested_past_the_limit_is_a_400(personas, network):
    raw = '{"variables": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}"
    response = put_json(personas.writer.client, VARIABLES, raw)
    assert response.status_code == 400
    assert response.json() == {"errors": {"base": ["The JSON body nests too deeply."]}}


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/environments?username=ac%00me",
        "/api/v1/terraform/state?username=%00",
        "/api/v1/environments?%00=1",
    ],
)
def test_a_nul_in_the_query_string_is_a_400(personas, url):
    response = personas.reader.client.get(url)
    assert response.status_code == 400
    assert list(response.json()["errors"].values()) == [[MESSAGE]]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/environments/acme/net%00work",
        "/api/v1/terraform/state/ac%00me/network",
        "/api/v1/user/%00",
    ],
)
def test_a_nul_in_the_path_is_a_400(personas, url):
    response = personas.reader.client.get(url)
    assert response.status_code == 400
    assert response.json() == {"errors": {"base": [f"The path {MESSAGE}."]}}


def test_a_nul_in_a_web_page_s_path_is_a_400_page(personas):
    client = Client()
    client.force_login(personas.reader.user)
    response = client.get("/environments/acme/net%00work")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert MESSAGE in response.content.decode()


@pytest.mark.parametrize("page", ["99999999999999999999", "9" * 400, "18446744073709551616"])
def test_a_page_beyond_any_integer_is_past_the_end(personas, network, page):
    response = personas.reader.client.get(f"/api/v1/environments?page={page}")
    assert response.status_code == 200
    body = response.json()
    assert body["environments"] == []
    assert body["meta"] == {"total": 1, "page": int(page), "per_page": 20}


def test_a_page_past_the_end_asks_only_for_the_count(personas, network, django_assert_num_queries):
    client = personas.reader.client
    client.get("/api/v1/environments?page=2")
    with django_assert_num_queries(2):  # token, count
        response = client.get("/api/v1/terraform/state?page=99999999999999999999")
    assert response.json()["states"] == []


@pytest.mark.parametrize("page", ["1_0", "\N{ARABIC-INDIC DIGIT ONE}", "+1", "0", "-1", "1e3"])
def test_a_page_that_is_not_plain_digits_is_a_400(personas, page):
    response = personas.reader.client.get("/api/v1/environments", {"page": page})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page"]


def test_a_huge_per_page_is_the_maximum(personas, network):
    response = personas.reader.client.get("/api/v1/environments?per_page=" + "9" * 40)
    assert response.status_code == 200
    assert response.json()["meta"]["per_page"] == 100


def test_a_huge_serial_in_the_path_is_a_404(personas, network):
    response = personas.reader.client.get(
        "/api/v1/terraform/state/acme/network/versions/" + "9" * 40
    )
    assert response.status_code == 404
    assert json.loads(response.content) == {"errors": {"base": ["Not found."]}}


@pytest.mark.parametrize("lineage", ["a\\u0000b", "a\\ud800b"])
def test_a_state_whose_lineage_is_not_clean_text_is_a_400(personas, lineage):
    body = f'{{"version": 3, "serial": 1, "lineage": "{lineage}"}}'.encode()
    response = personas.writer.client.put(
        "/api/v1/terraform/state/acme/network", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["base"]
    assert not Environment.objects.exists()
