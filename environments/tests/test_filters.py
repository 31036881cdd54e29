"""Filtering environment lists (django-filter): the API and the web list
read the same filter, and a filtered page costs as many queries as any."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import organization
from environments.models import Environment

pytestmark = pytest.mark.django_db

URL = "/api/v1/environments"


@pytest.fixture
def environments(personas):
    acme = personas.org.namespace
    for name in ("api", "web", "worker"):
        Environment.objects.create(namespace=acme, name=name)
    Environment.objects.create(namespace=personas.reader.user.namespace, name="web-sandbox")
    hidden = organization("hidden", personas.outsider.user)
    Environment.objects.create(namespace=hidden.namespace, name="web")


def names(response):
    return [(e["username"], e["name"]) for e in response.json()["environments"]]


def test_the_api_keeps_one_namespace_in_any_case(personas, environments):
    response = personas.reader.client.get(URL, {"username": "ACME"})
    assert response.status_code == 200
    assert names(response) == [("acme", "api"), ("acme", "web"), ("acme", "worker")]
    response = personas.reader.client.get(URL, {"namespace": "reader"})
    assert names(response) == [("reader", "web-sandbox")]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("WEB", [("acme", "web"), ("reader", "web-sandbox")]),
        ("acme/w", [("acme", "web"), ("acme", "worker")]),
        ("read", [("reader", "web-sandbox")]),
        ("nothing", []),
    ],
)
def test_the_api_searches_names_the_caller_can_read(personas, environments, q, expected):
    response = personas.reader.client.get(URL, {"q": q})
    assert response.status_code == 200
    assert names(response) == expected


def test_a_filtered_api_list_costs_the_same_queries_however_many_match(
    personas, environments, django_assert_num_queries
):
    client = personas.reader.client
    client.get(URL)  # sessions, caches and the token's last use settle first
    with django_assert_num_queries(3):
        response = client.get(URL, {"username": "acme", "q": "w"})
    assert names(response) == [("acme", "web"), ("acme", "worker")]
    for index in range(10):
        Environment.objects.create(namespace=personas.org.namespace, name=f"web-{index}")
    with django_assert_num_queries(3):
        response = client.get(URL, {"username": "acme", "q": "w"})
    assert len(names(response)) == 12


def test_the_web_list_reads_the_same_filter(personas, environments):
    client = Client()
    client.force_login(personas.reader.user)
    response = client.get("/environments", {"namespace": "acme", "q": "w"})
    assert response.status_code == 200
    shown = [(e.namespace.name, e.name) for e in response.context["page"].object_list]
    assert shown == [("acme", "web"), ("acme", "worker")]
    response = client.get("/environments", {"q": "hidden/"})
    assert list(response.context["page"].object_list) == []


def test_a_filtered_web_list_costs_the_same_queries_however_many_match(personas, environments):
    client = Client()
    client.force_login(personas.reader.user)
    client.get("/environments")
    with CaptureQueriesContext(connection) as few:
        client.get("/environments", {"namespace": "acme", "q": "w"})
    for index in range(10):
        Environment.objects.create(namespace=personas.org.namespace, name=f"web-{index}")
    with CaptureQueriesContext(connection) as many:
        response = client.get("/environments", {"namespace": "acme", "q": "w"})
    assert response.context["page"].paginator.count == 12
    assert len(many.captured_queries) == len(few.captured_queries)
