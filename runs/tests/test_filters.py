"""Filtering an environment's runs by status (django-filter), in the API and
on the runs page, at a constant number of queries."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from runs.models import Run, Status

from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/environments/acme/app/runs"


@pytest.fixture
def runs(personas):
    env = environment()
    version = finished_version(env)
    made = {}
    for status in (Status.APPLIED, Status.ERRORED, Status.ERRORED, Status.PLANNED):
        run = RunFactory(environment=env, configuration_version=version, status=status)
        made.setdefault(status, []).append(run.pk)
    return made


def test_the_api_keeps_the_runs_in_one_status(personas, runs):
    response = personas.reader.client.get(RUNS, {"status": "errored"})
    assert response.status_code == 200
    assert [run["id"] for run in response.json()["runs"]] == sorted(
        runs[Status.ERRORED], reverse=True
    )
    everything = personas.reader.client.get(RUNS).json()["runs"]
    assert len(everything) == 4


def test_an_unknown_status_is_a_400_naming_the_parameter(personas, runs):
    response = personas.reader.client.get(RUNS, {"status": "sleeping"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["status"]


def test_a_filtered_api_list_costs_the_same_queries_however_many_match(personas, runs):
    client = personas.reader.client
    client.get(RUNS)
    with CaptureQueriesContext(connection) as few:
        client.get(RUNS, {"status": "errored"})
    first = Run.objects.get(pk=runs[Status.ERRORED][0])
    for _ in range(5):
        RunFactory(
            environment=first.environment,
            configuration_version=first.configuration_version,
            status=Status.ERRORED,
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(RUNS, {"status": "errored"})
    assert len(response.json()["runs"]) == 7
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_runs_page_filters_by_status_too(personas, runs):
    client = Client()
    client.force_login(personas.reader.user)
    response = client.get("/environments/acme/app/runs", {"status": "planned"})
    assert response.status_code == 200
    assert [run.pk for run in response.context["page"].object_list] == runs[Status.PLANNED]
    assert response.context["status"] == "planned"
    assert b'<option value="planned" selected>' in response.content
    response = client.get("/environments/acme/app/runs", {"status": "sleeping"})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 4
