"""The dashboard's runs: what needs a person, recent runs; only what they may read."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from environments import services
from environments.models import Environment

from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db


def signed_in(persona):
    client = Client()
    client.force_login(persona.user)
    return client


def _run(env, status, **fields):
    return RunFactory(
        environment=env, configuration_version=finished_version(env), status=status, **fields
    )


def test_the_dashboard_lists_plans_waiting_errored_runs_and_stuck_locks(personas):
    app, web, db = environment("app"), environment("web"), environment("db")
    now = timezone.now()
    waiting = _run(app, "planned", planned_at=now)
    failed = _run(web, "errored", errored_at=now, error_text="Error: boom\n\nmore")
    superseded = _run(db, "errored", errored_at=now, error_text="Error: fixed since")
    _run(db, "applied", applied_at=now)
    old = _run(environment("old"), "errored", errored_at=now - timedelta(days=8))
    services.lock_environment(db, personas.admin.user, "maintenance")
    Environment.objects.filter(pk=db.pk).update(locked_at=now - timedelta(hours=2))

    page = signed_in(personas.reader).get("/").content.decode()
    attention = page[page.index('id="attention-title"') : page.index('id="recent-runs-title"')]
    assert f"run #{waiting.pk}" in attention and "Waiting for confirmation" in attention
    assert f"run #{failed.pk}" in attention and "Error: boom" in attention
    assert f"run #{superseded.pk}" not in attention  # a later run of its environment exists
    assert f"run #{old.pk}" not in attention  # over a week ago
    assert "acme/db" in attention and "maintenance" in attention
    assert '<span class="count">3</span>' in attention


def test_the_dashboard_shows_nothing_of_environments_the_caller_cannot_read(personas):
    _run(environment("app"), "errored", errored_at=timezone.now())
    page = signed_in(personas.outsider).get("/").content.decode()
    assert "acme/app" not in page
    assert "Nothing needs you." in page


def test_the_dashboards_runs_cost_the_same_queries_for_one_or_many(
    personas, django_assert_num_queries
):
    client = signed_in(personas.reader)
    _run(environment("app"), "planned", planned_at=timezone.now())
    client.get("/dashboard/runs")
    # session, user; waiting, errored, locks, recent
    with django_assert_num_queries(6) as one:
        assert client.get("/dashboard/runs").status_code == 200
    for index in range(4):
        env = environment(f"more{index}")
        _run(env, "errored", errored_at=timezone.now(), error_text="Error: x")
        _run(env, "planned", planned_at=timezone.now())
    with django_assert_num_queries(len(one)):
        assert client.get("/dashboard/runs").status_code == 200
