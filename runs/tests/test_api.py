"""The runs API: queue, list, read, actions and logs, with their permissions."""

import pytest
from django_tasks_db.models import DBTaskResult

from accounts.models import Token
from accounts.tokens import issue
from conftest import api_client
from environments.models import Environment
from runs.logs import append_text
from runs.models import Run, Status
from runs.queue import lock_reason

from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db

PLAN = "/api/v1/environments/acme/app/plan"
RUNS = "/api/v1/environments/acme/app/runs"


def _run(env, status=Status.PLANNED, **kwargs):
    return RunFactory(environment=env, configuration_version=finished_version(env), status=status)


def _clients(personas, env):
    run_token = issue(personas.writer.user, kind=Token.Kind.RUN)
    Token.objects.filter(pk=run_token[0].pk).update(scope_environment_id=env.pk)
    read_only = issue(personas.writer.user, read_only=True)[1]
    return {
        "admin": personas.admin.client,
        "writer": personas.writer.client,
        "reader": personas.reader.client,
        "outsider": personas.outsider.client,
        "anonymous": api_client(),
        "read-only token": api_client(read_only),
        "run token": api_client(run_token[1]),
    }


READ = {
    "admin": 200,
    "writer": 200,
    "reader": 200,
    "outsider": 404,
    "anonymous": 401,
    "read-only token": 200,
    # A run token reads its own run only (tests/test_run_token.py).
    "run token": 404,
}
WRITE = {**READ, "reader": 403, "read-only token": 403}


@pytest.mark.parametrize("who", list(WRITE))
def test_queueing_a_plan_needs_write_access(personas, env, version, who):
    response = _clients(personas, env)[who].post(PLAN)
    assert response.status_code == WRITE[who]
    assert Run.objects.count() == (1 if WRITE[who] == 200 else 0)
    if WRITE[who] != 200:
        assert set(response.json()["errors"]) == {"base"}


@pytest.mark.parametrize("who", list(READ))
@pytest.mark.parametrize("path", ["list", "run", "plan log", "apply log"])
def test_reading_runs_and_logs_needs_read_access(personas, env, who, path):
    run = _run(env)
    url = {
        "list": RUNS,
        "run": f"/api/v1/runs/{run.pk}",
        "plan log": f"/api/v1/runs/{run.pk}/logs/plan",
        "apply log": f"/api/v1/runs/{run.pk}/logs/apply",
    }[path]
    response = _clients(personas, env)[who].get(url)
    assert response.status_code == READ[who]


@pytest.mark.parametrize("who", list(WRITE))
@pytest.mark.parametrize("action", ["confirm", "discard", "cancel"])
def test_actions_need_write_access(personas, env, who, action):
    run = _run(env, Status.PLANNED if action != "cancel" else Status.PENDING)
    before = run.status
    response = _clients(personas, env)[who].post(f"/api/v1/runs/{run.pk}/actions/{action}")
    assert response.status_code == WRITE[who]
    changed = Run.objects.get(pk=run.pk).status != before
    assert changed is (WRITE[who] == 200)


def test_queue_answers_success_and_the_run_holding_the_environment(personas, env, version):
    response = personas.writer.client.post(PLAN)
    assert response.status_code == 200
    body = response.json()
    run = Run.objects.get()
    assert body["success"] is True
    assert body["run"]["id"] == run.pk
    assert body["run"]["status"] == "pending"
    assert body["run"]["destroy"] is False
    assert body["run"]["environment"] == {"username": "acme", "name": "app"}
    assert body["run"]["configuration_version"] == version.number
    assert body["run"]["created_by"] == "writer"
    assert body["run"]["holds_lock"] is True
    assert "pending_at" in body["run"]["status_timestamps"]
    env.refresh_from_db()
    assert env.locked and env.locked_by is None and env.lock_reason == lock_reason(run)
    assert DBTaskResult.objects.filter(id=run.task_id, status="READY").exists()


@pytest.mark.parametrize(
    ("kwargs", "destroy"),
    [
        ({"data": {"destroy": True}, "format": "json"}, True),
        ({"data": {"destroy": False}, "format": "json"}, False),
        ({"data": "destroy=true", "content_type": "application/x-www-form-urlencoded"}, True),
        ({"data": "destroy=false", "content_type": "application/x-www-form-urlencoded"}, False),
        ({"data": "", "content_type": "application/x-www-form-urlencoded"}, False),
        ({"data": "", "content_type": "application/json"}, False),
        ({}, False),
    ],
)
def test_the_body_is_optional_and_may_ask_for_a_destroy_plan(
    personas, env, version, kwargs, destroy
):
    response = personas.writer.client.post(PLAN, **kwargs)
    assert response.status_code == 200
    assert response.json()["run"]["destroy"] is destroy
    assert Run.objects.get().destroy is destroy


def test_a_destroy_flag_that_is_not_a_boolean_is_a_422(personas, env, version):
    response = personas.writer.client.post(PLAN, {"destroy": "maybe"}, format="json")
    assert response.status_code == 422
    assert response.json() == {"errors": {"destroy": ["must be true or false"]}}
    assert not Run.objects.exists()


def test_without_a_finished_configuration_version_queueing_is_a_404(personas, env):
    response = personas.writer.client.post(PLAN)
    assert response.status_code == 404
    assert "push one first" in response.json()["errors"]["base"][0]
    assert not Run.objects.exists()


def test_an_unknown_environment_is_a_404(personas):
    assert personas.writer.client.post("/api/v1/environments/acme/nope/plan").status_code == 404
    assert personas.writer.client.get("/api/v1/environments/acme/nope/runs").status_code == 404


def test_later_runs_wait_in_order_behind_the_active_one(personas, env, version):
    ids = [personas.writer.client.post(PLAN).json()["run"]["id"] for _ in range(3)]
    holders = list(Run.objects.filter(holds_lock=True).values_list("pk", flat=True))
    assert holders == [ids[0]]
    assert Run.objects.filter(status="pending").count() == 3
    assert DBTaskResult.objects.count() == 1


def test_the_list_is_newest_first_and_paginated(personas, env, version, django_assert_num_queries):
    for _ in range(3):
        personas.writer.client.post(PLAN)
    response = personas.reader.client.get(RUNS, {"per_page": 2})
    assert response.status_code == 200
    body = response.json()
    ids = sorted(Run.objects.values_list("pk", flat=True), reverse=True)
    assert [r["id"] for r in body["runs"]] == ids[:2]
    assert body["meta"] == {"total": 3, "page": 1, "per_page": 2}
    with django_assert_num_queries(4):  # constant in the number of runs
        personas.reader.client.get(RUNS, {"per_page": 100})


def test_reading_a_run_shows_its_phases_and_change_counts(personas, env):
    run = _run(env, Status.PLANNED)
    Run.objects.filter(pk=run.pk).update(
        has_changes=True, resource_additions=2, resource_changes=1, resource_destructions=0
    )
    body = personas.reader.client.get(f"/api/v1/runs/{run.pk}").json()["run"]
    assert body["status"] == "planned"
    assert (body["resource_additions"], body["resource_changes"]) == (2, 1)
    assert body["resource_destructions"] == 0
    assert body["finished"] is False


def test_a_run_id_that_is_not_a_number_is_a_json_404(personas):
    response = personas.reader.client.get("/api/v1/runs/abc")
    assert response.status_code == 404
    assert "errors" in response.json()


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.APPLYING, "confirm"),
        (Status.PENDING, "discard"),
        (Status.PLANNED, "cancel"),
        (Status.APPLIED, "cancel"),
        (Status.ERRORED, "confirm"),
    ],
)
def test_an_action_the_status_forbids_is_a_409_naming_the_status(personas, env, status, action):
    run = _run(env, status)
    response = personas.writer.client.post(f"/api/v1/runs/{run.pk}/actions/{action}")
    assert response.status_code == 409
    message = response.json()["errors"]["status"][0]
    assert message.startswith(f"is {status}: only a run that is ")
    assert Run.objects.get(pk=run.pk).status == status


def test_confirm_answers_the_confirmed_run(personas, env):
    run = _run(env, Status.PLANNED)
    response = personas.writer.client.post(f"/api/v1/runs/{run.pk}/actions/confirm")
    assert response.status_code == 200
    assert response.json()["run"]["status"] == "confirmed"
    assert response.json()["run"]["confirmed_by"] == "writer"
    assert Run.objects.get(pk=run.pk).confirmed_by == personas.writer.user


def test_cancelling_a_pending_run_drops_it_and_frees_the_environment(personas, env, version):
    run_id = personas.writer.client.post(PLAN).json()["run"]["id"]
    response = personas.writer.client.post(f"/api/v1/runs/{run_id}/actions/cancel")
    assert response.status_code == 200
    assert response.json()["run"]["status"] == "canceled"
    assert not Environment.objects.get(pk=env.pk).locked


def test_logs_are_text_and_can_be_tailed_from_an_offset(personas, env):
    run = _run(env, Status.PLANNING)
    append_text(run, "plan", "first line\n")
    url = f"/api/v1/runs/{run.pk}/logs/plan"
    response = personas.reader.client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"first line\n"
    assert response["X-Atlas-Log-Size"] == "11"
    assert response["X-Atlas-Log-Complete"] == "false"
    append_text(run, "plan", "second line\n")
    tail = personas.reader.client.get(url, {"offset": 11})
    assert tail.content == b"second line\n"
    assert tail["X-Atlas-Log-Size"] == "23"
    assert personas.reader.client.get(url, {"offset": 99}).content == b""


@pytest.mark.parametrize("offset", ["-1", "x", "1.5"])
def test_a_bad_log_offset_is_a_400(personas, env, offset):
    run = _run(env)
    response = personas.reader.client.get(f"/api/v1/runs/{run.pk}/logs/plan", {"offset": offset})
    assert response.status_code == 400
    assert "offset" in response.json()["errors"]


def test_a_finished_runs_logs_say_they_are_complete(personas, env):
    run = _run(env, Status.APPLIED)
    for phase in ("plan", "apply"):
        response = personas.reader.client.get(f"/api/v1/runs/{run.pk}/logs/{phase}")
        assert response["X-Atlas-Log-Complete"] == "true"


def test_runs_of_another_namespace_are_invisible(personas):
    other = environment("mine", namespace="outsider")
    run = _run(other)
    assert personas.writer.client.get(f"/api/v1/runs/{run.pk}").status_code == 404
    assert personas.outsider.client.get(f"/api/v1/runs/{run.pk}").status_code == 200
