"""TFE v2 remote runs through the real URLs: configuration versions and their
upload URLs, runs and their actions, plans, applies, logs, the queue, and
who may do what."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max
from rest_framework.test import APIClient

from accounts.models import Token
from accounts.tokens import issue
from environments import services
from environments.models import ConfigurationVersion, Environment, LockKind
from environments.tests.factories import good_archive, symlink_entry, tar_bytes
from runs import variables as run_variables
from runs.api.tfe_shapes import log_token
from runs.logs import append_text
from runs.models import Run, Source, Status

from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db


def v2(token=None):
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def run_token_client(personas, env):
    token, text = issue(personas.writer.user, kind=Token.Kind.RUN)
    Token.objects.filter(pk=token.pk).update(scope_environment_id=env.pk)
    return v2(text)


def clients(personas, env):
    return {
        "admin": v2(personas.admin.token),
        "writer": v2(personas.writer.token),
        "reader": v2(personas.reader.token),
        "outsider": v2(personas.outsider.token),
        "anonymous": v2(),
        "run token": run_token_client(personas, env),
    }


def run_body(env, version=None, **attributes):
    relationships = {"workspace": {"data": {"type": "workspaces", "id": f"ws-{env.pk}"}}}
    if version is not None:
        relationships["configuration-version"] = {
            "data": {"type": "configuration-versions", "id": f"cv-{version.pk}"}
        }
    return {"data": {"type": "runs", "attributes": attributes, "relationships": relationships}}


def create_version(client, env, **attributes):
    body = {"data": {"type": "configuration-versions", "attributes": attributes}}
    return client.post(f"/api/v2/workspaces/ws-{env.pk}/configuration-versions", body, "json")


CREATE = {
    "admin": 201,
    "writer": 201,
    "reader": 403,
    "outsider": 404,
    "anonymous": 401,
    "run token": 404,
}


@pytest.mark.parametrize("who", list(CREATE))
def test_who_may_create_a_configuration_version(personas, who):
    env = environment()
    response = create_version(clients(personas, env)[who], env, **{"auto-queue-runs": False})
    assert response.status_code == CREATE[who]
    if response.status_code == 201:
        data = response.json()["data"]
        assert data["attributes"]["status"] == "pending"
        assert data["attributes"]["upload-url"].startswith("http://testserver/api/v2/")
        version = ConfigurationVersion.objects.get(pk=data["id"].removeprefix("cv-"))
        assert (version.number, version.auto_queue_runs) == (1, False)
    else:
        assert response.json()["errors"][0]["status"] == str(CREATE[who])
        assert not ConfigurationVersion.objects.exists()


def test_an_upload_url_takes_one_archive_and_nothing_queues_a_run(personas):
    env = environment()
    writer = v2(personas.writer.token)
    created = create_version(writer, env, **{"auto-queue-runs": False, "speculative": True})
    url = created.json()["data"]["attributes"]["upload-url"]
    archive = good_archive()
    put = APIClient().put(url, archive, content_type="application/octet-stream")
    assert put.status_code == 200
    again = APIClient().put(url, archive, content_type="application/octet-stream")
    assert again.status_code == 404
    assert again.json()["errors"][0]["status"] == "404"
    read = writer.get(f"/api/v2/configuration-versions/{created.json()['data']['id']}")
    assert read.json()["data"]["attributes"]["status"] == "uploaded"
    assert read.json()["data"]["attributes"]["speculative"] is True
    assert not Run.objects.exists()
    assert (
        v2(personas.outsider.token)
        .get(f"/api/v2/configuration-versions/{created.json()['data']['id']}")
        .status_code
        == 404
    )


def test_a_hostile_archive_is_refused_and_the_version_errored(personas, tmp_path):
    env = environment()
    created = create_version(v2(personas.writer.token), env, **{"auto-queue-runs": False})
    url = created.json()["data"]["attributes"]["upload-url"]
    hostile = tar_bytes(symlink_entry("main.tf", "/etc/passwd"))
    put = APIClient().put(url, hostile, content_type="application/octet-stream")
    assert put.status_code == 422
    assert "refused" in put.json()["errors"][0]["detail"]
    version = ConfigurationVersion.objects.get()
    assert version.status == ConfigurationVersion.Status.ERRORED and not version.archive_name
    read = v2(personas.writer.token).get(f"/api/v2/configuration-versions/cv-{version.pk}")
    assert read.json()["data"]["attributes"]["status"] == "errored"


@pytest.mark.parametrize("who", list(CREATE))
def test_who_may_create_a_run(personas, who):
    env = environment()
    version = finished_version(env)
    response = clients(personas, env)[who].post("/api/v2/runs", run_body(env, version), "json")
    assert response.status_code == CREATE[who]
    if response.status_code != 201:
        assert not Run.objects.exists()
        return
    data = response.json()["data"]
    run = Run.objects.get(pk=data["id"].removeprefix("run-"))
    assert (run.source, run.speculative, run.configuration_version) == (
        Source.TFE_CLI,
        False,
        version,
    )
    assert data["attributes"]["status"] == "pending"
    assert data["attributes"]["actions"]["is-confirmable"] is False
    assert data["relationships"]["plan"]["data"] == {"id": f"plan-{run.pk}", "type": "plans"}
    assert run.holds_lock  # the environment was free: it started at once


def test_a_speculative_run_never_takes_the_lock_and_cannot_be_applied(personas):
    env = environment()
    services.lock_environment(env, personas.admin.user, "maintenance", kind=LockKind.MANUAL)
    version = finished_version(env)
    ConfigurationVersion.objects.filter(pk=version.pk).update(speculative=True)
    writer = v2(personas.writer.token)
    response = writer.post("/api/v2/runs", run_body(env, version), "json")
    assert response.status_code == 201
    run = Run.objects.get()
    assert run.speculative and not run.holds_lock
    assert run.task_id  # queued for a worker although the environment is locked
    Run.objects.filter(pk=run.pk).update(
        status=Status.PLANNED_AND_FINISHED, has_changes=True, holds_lock=False
    )
    refused = writer.post(f"/api/v2/runs/run-{run.pk}/actions/apply")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["title"] == "conflict"


def test_run_variables_are_sealed_and_bad_ones_refused(personas):
    env = environment()
    version = finished_version(env)
    writer = v2(personas.writer.token)
    variables = [{"key": "password", "value": '"s3cr3t-value"'}]
    response = writer.post("/api/v2/runs", run_body(env, version, variables=variables), "json")
    assert response.status_code == 201
    run = Run.objects.get()
    assert run.variables_sealed and "s3cr3t-value" not in run.variables_sealed
    assert run_variables.load(run) == [{"key": "password", "value": '"s3cr3t-value"', "hcl": True}]
    bad = writer.post(
        "/api/v2/runs", run_body(env, version, variables=[{"key": "1bad", "value": "1"}]), "json"
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["source"] == {"pointer": "/data/attributes/variables"}


def test_a_local_workspace_takes_no_runs(personas):
    env = environment()
    Environment.objects.filter(pk=env.pk).update(execution_mode="local")
    response = v2(personas.writer.token).post(
        "/api/v2/runs", run_body(env, finished_version(env)), "json"
    )
    assert response.status_code == 409
    assert "executes locally" in response.json()["errors"][0]["detail"]
    assert not Run.objects.exists()


def test_a_version_of_another_workspace_is_refused(personas):
    env, other = environment(), environment("other")
    response = v2(personas.writer.token).post(
        "/api/v2/runs", run_body(env, finished_version(other)), "json"
    )
    assert response.status_code == 422
    assert not Run.objects.exists()


ACT = {
    "admin": 202,
    "writer": 202,
    "reader": 403,
    "outsider": 404,
    "anonymous": 401,
    "run token": 404,
}


@pytest.mark.parametrize("who", list(ACT))
def test_who_may_apply_a_planned_run(personas, who):
    env = environment()
    run = RunFactory(environment=env, status=Status.PLANNED, has_changes=True, holds_lock=True)
    response = clients(personas, env)[who].post(f"/api/v2/runs/run-{run.pk}/actions/apply")
    assert response.status_code == ACT[who]
    run.refresh_from_db()
    assert run.status == (Status.CONFIRMED if ACT[who] == 202 else Status.PLANNED)


@pytest.mark.parametrize(
    ("action", "status", "expected", "after"),
    [
        ("discard", Status.PLANNED, 202, Status.DISCARDED),
        ("discard", Status.PENDING, 409, Status.PENDING),
        ("cancel", Status.PENDING, 202, Status.CANCELED),
        ("cancel", Status.APPLIED, 409, Status.APPLIED),
        ("apply", Status.PENDING, 409, Status.PENDING),
    ],
)
def test_actions_follow_the_run_rules(personas, action, status, expected, after):
    env = environment()
    run = RunFactory(environment=env, status=status)
    response = v2(personas.writer.token).post(f"/api/v2/runs/run-{run.pk}/actions/{action}")
    assert response.status_code == expected
    if expected == 409:
        error = response.json()["errors"][0]
        assert error["status"] == "409" and f"The run is {status}" in error["detail"]
    run.refresh_from_db()
    assert run.status == after


def test_run_plan_and_apply_read_with_their_log_urls(personas):
    env = environment()
    run = RunFactory(
        environment=env,
        status=Status.PLANNED,
        has_changes=True,
        resource_additions=2,
        resource_changes=0,
        resource_destructions=1,
        terraform_version="1.6.6",
    )
    reader = v2(personas.reader.token)
    data = reader.get(f"/api/v2/runs/run-{run.pk}").json()["data"]
    assert data["attributes"]["has-changes"] is True
    assert data["attributes"]["actions"]["is-confirmable"] is True
    assert data["attributes"]["permissions"]["can-apply"] is False  # a reader
    plan = reader.get(f"/api/v2/plans/plan-{run.pk}").json()["data"]["attributes"]
    assert plan["status"] == "finished"
    assert (plan["resource-additions"], plan["resource-destructions"]) == (2, 1)
    assert plan["log-read-url"].startswith("http://testserver/api/v2/run-logs/")
    apply = reader.get(f"/api/v2/applies/apply-{run.pk}").json()["data"]["attributes"]
    assert apply["status"] == "pending"
    assert reader.get(f"/api/v2/runs/run-{run.pk}/run-events").json() == {"data": []}
    outsider = v2(personas.outsider.token)
    for path in (f"runs/run-{run.pk}", f"plans/plan-{run.pk}", f"applies/apply-{run.pk}"):
        assert outsider.get(f"/api/v2/{path}").status_code == 404


def test_a_log_url_frames_the_log_and_needs_no_credential(personas):
    env = environment()
    run = RunFactory(environment=env, status=Status.PLANNING, terraform_version="1.6.6")
    append_text(run, "plan", "line one\n")
    url = f"/api/v2/run-logs/{log_token(run, 'plan')}"
    anonymous = APIClient()
    growing = anonymous.get(url, {"offset": 0, "limit": 100})
    assert growing.status_code == 200 and growing.content == b"\x02line one\n"
    nothing_new = anonymous.get(url, {"offset": 10, "limit": 100})
    assert (nothing_new.status_code, nothing_new.content) == (200, b"")
    Run.objects.filter(pk=run.pk).update(status=Status.ERRORED)
    append_text(run, "plan", "Error: boom\n")
    assert anonymous.get(url, {"offset": 10, "limit": 100}).content == b"Error: boom\n\x03"
    assert anonymous.get(url, {"offset": 0, "limit": 3}).content == b"\x02li"
    assert anonymous.get(url, {"offset": 23, "limit": 100}).content == b""
    assert anonymous.get(f"/api/v2/run-logs/{log_token(run, 'plan')}x").status_code == 404

    Run.objects.filter(pk=run.pk).update(status=Status.APPLIED, confirmed_at=run.created_at)
    append_text(run, "apply", "Apply complete!\n")
    apply_log = anonymous.get(f"/api/v2/run-logs/{log_token(run, 'apply')}").content
    assert apply_log == b"\x02Terraform v1.6.6\non linux_amd64\n\nApply complete!\n\x03"


def test_workspace_runs_queue_and_capacity(personas, django_assert_num_queries):
    env = environment()
    for status in (Status.APPLIED, Status.PLANNING, Status.PENDING):
        RunFactory(environment=env, status=status)
    reader = v2(personas.reader.token)
    # the token (and its first use), the workspace, the reader's level, count, page
    with django_assert_num_queries(6):
        listed = reader.get(f"/api/v2/workspaces/ws-{env.pk}/runs")
    assert [r["attributes"]["status"] for r in listed.json()["data"]] == [
        "pending",
        "planning",
        "applied",
    ]
    assert listed.json()["meta"]["pagination"]["total-count"] == 3
    queue = reader.get("/api/v2/organizations/acme/runs/queue").json()
    assert [item["attributes"]["position-in-queue"] for item in queue["data"]] == [0]
    capacity = reader.get("/api/v2/organizations/acme/capacity").json()["data"]["attributes"]
    assert capacity == {"pending": 1, "running": 1}
    assert v2(personas.outsider.token).get("/api/v2/organizations/acme/capacity").status_code == 404


def test_the_workspace_says_remote_and_hides_a_pending_run_s_hold(personas):
    env = environment()
    response = v2(personas.writer.token).post(
        "/api/v2/runs", run_body(env, finished_version(env)), "json"
    )
    run = Run.objects.get(pk=response.json()["data"]["id"].removeprefix("run-"))
    workspace = v2(personas.writer.token).get(f"/api/v2/workspaces/ws-{env.pk}").json()["data"]
    assert workspace["attributes"]["execution-mode"] == "remote"
    assert workspace["attributes"]["operations"] is True
    assert workspace["attributes"]["locked"] is False  # held, but its run has not started
    assert workspace["relationships"]["current-run"]["data"]["id"] == f"run-{run.pk}"
    Run.objects.filter(pk=run.pk).update(status=Status.PLANNING)
    workspace = v2(personas.writer.token).get(f"/api/v2/workspaces/ws-{env.pk}").json()["data"]
    assert workspace["attributes"]["locked"] is True


def test_execution_mode_is_set_by_an_admin_through_the_workspace(personas):
    env = environment()
    body = {"data": {"type": "workspaces", "attributes": {"execution-mode": "local"}}}
    path = f"/api/v2/workspaces/ws-{env.pk}"
    assert v2(personas.writer.token).patch(path, body, "json").status_code == 403
    response = v2(personas.admin.token).patch(path, body, "json")
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["operations"] is False
    assert Environment.objects.get(pk=env.pk).execution_mode == "local"
    body["data"]["attributes"]["execution-mode"] = "agent"
    assert v2(personas.admin.token).patch(path, body, "json").status_code == 422


def test_an_organization_s_default_makes_new_environments_local(personas):
    personas.org.default_execution_mode = "local"
    personas.org.save()
    body = {"data": {"type": "workspaces", "attributes": {"name": "fresh"}}}
    response = v2(personas.writer.token).post("/api/v2/organizations/acme/workspaces", body, "json")
    assert response.json()["data"]["attributes"]["execution-mode"] == "local"


def signed_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_the_pages_show_and_set_the_execution_mode_and_the_run_s_source(personas):
    env = environment()
    page = "/environments/acme/app"
    admin, writer = signed_in(personas.admin.user), signed_in(personas.writer.user)
    assert writer.post(f"{page}/settings/execution-mode", {"execution_mode": "local"}).status_code
    assert Environment.objects.get(pk=env.pk).execution_mode == "remote"  # writers cannot
    response = admin.post(f"{page}/settings/execution-mode", {"execution_mode": "local"})
    assert response.status_code == 302
    assert Environment.objects.get(pk=env.pk).execution_mode == "local"
    assert admin.post(f"{page}/settings/execution-mode", {"execution_mode": "x"}).status_code == 302
    assert Environment.objects.get(pk=env.pk).execution_mode == "local"
    assert "<dt>Execution</dt><dd>local" in writer.get(page).content.decode()

    run = RunFactory(
        environment=env, status=Status.PLANNED_AND_FINISHED, source=Source.TFE_CLI,
        speculative=True, terraform_version="1.6.6",
    )  # fmt: skip
    assert "plan only</span>" in writer.get(f"{page}/runs").content.decode()
    detail = writer.get(f"{page}/runs/{run.pk}").content.decode()
    assert "plan only (speculative)" in detail
    assert "terraform plan/apply (TFE API) · Terraform 1.6.6" in detail


def test_api_v1_shows_and_sets_the_execution_mode(personas):
    environment()
    path = "/api/v1/environments/acme/app"
    assert personas.reader.client.get(path).json()["environment"]["execution_mode"] == "remote"
    body = {"environment": {"execution_mode": "local"}}
    assert personas.writer.client.patch(path, body, format="json").status_code == 403
    assert personas.admin.client.patch(path, body, format="json").status_code == 200
    assert Environment.objects.get(name="app").execution_mode == "local"
    bad = personas.admin.client.patch(path, {"environment": {"execution_mode": "agent"}}, "json")
    assert bad.status_code == 422
    assert "execution_mode" in bad.json()["errors"]


def test_the_run_link_the_cli_prints_leads_to_the_run_s_page(personas):
    env = environment()
    run = RunFactory(environment=env, status=Status.PENDING)
    reader = signed_in(personas.reader.user)
    response = reader.get(f"/app/acme/app/runs/run-{run.pk}")
    assert response.status_code == 302
    assert response["Location"] == f"/environments/acme/app/runs/{run.pk}"
    assert reader.get("/app/acme/app/runs/run-x").status_code == 404
    assert (
        signed_in(personas.outsider.user).get(f"/app/acme/app/runs/run-{run.pk}").status_code == 404
    )


def test_an_operator_sees_an_organization_s_default_execution_mode(personas):
    from accounts.models import User

    operator = User.objects.create_superuser("operator", "op@example.com", "pw-operator-1")
    page = signed_in(operator).get(f"/admin/accounts/organization/{personas.org.pk}/change/")
    assert page.status_code == 200
    assert 'name="default_execution_mode"' in page.content.decode()


def test_a_run_without_a_version_takes_the_latest_uploaded_one(personas):
    env = environment()
    writer = v2(personas.writer.token)
    none_yet = writer.post("/api/v2/runs", run_body(env), "json")
    assert none_yet.status_code == 422
    version = finished_version(env)
    response = writer.post("/api/v2/runs", run_body(env), "json")
    assert response.status_code == 201
    assert Run.objects.get().configuration_version == version


def _held_until(run):
    return DBTaskResult.objects.get(id=Run.objects.get(pk=run.pk).task_id).run_after


def _auto_confirmed(env, source):
    from runs import machine

    run = RunFactory(environment=env, status=Status.PLANNED, source=source, has_changes=True)
    append_text(run, "plan", "Plan: 1 to add.\n")
    return machine.confirm(run, auto=True)


def test_an_auto_applied_cli_run_applies_once_the_cli_has_read_its_plans_end(personas):
    env = environment()
    run = _auto_confirmed(env, Source.TFE_CLI)
    held = _held_until(run)
    assert held > timezone.now() + timedelta(seconds=5)  # the grace, as the fallback
    writer = v2(personas.writer.token)
    # The CLI's reads before the plan's end release nothing.
    # `apply_queued`, as TFE says: the CLI waits for the plan while a run is `confirmed`.
    assert writer.get(f"/api/v2/runs/run-{run.pk}").json()["data"]["attributes"]["status"] == (
        "apply_queued"
    )
    url = f"/api/v2/run-logs/{log_token(run, 'plan')}"
    assert APIClient().get(url, {"offset": 0, "limit": 5}).content == b"\x02Plan"  # not the end
    assert writer.get(f"/api/v2/runs/run-{run.pk}").status_code == 200
    assert _held_until(run) == held
    assert Run.objects.get(pk=run.pk).plan_log_read_at is None
    # The end of the plan's log, then the run: the apply is ready now.
    assert APIClient().get(url, {"offset": 5, "limit": 100}).content.endswith(b"\x03")
    assert Run.objects.get(pk=run.pk).plan_log_read_at is not None
    answer = writer.get(f"/api/v2/runs/run-{run.pk}").json()["data"]["attributes"]
    assert answer["status"] == "apply_queued"  # built before the release
    assert _held_until(run) <= timezone.now()


def test_only_a_held_cli_apply_is_released(personas):
    env = environment()
    api_run = _auto_confirmed(env, Source.API)
    assert _held_until(api_run) == get_date_max()  # never held: ready at once
    url = f"/api/v2/run-logs/{log_token(api_run, 'plan')}"
    assert APIClient().get(url).content.endswith(b"\x03")
    assert Run.objects.get(pk=api_run.pk).plan_log_read_at is None  # not a CLI's run
    cli_run = _auto_confirmed(environment("other"), Source.TFE_CLI)
    Run.objects.filter(pk=cli_run.pk).update(status=Status.CANCELED)
    APIClient().get(f"/api/v2/run-logs/{log_token(cli_run, 'plan')}")
    v2(personas.writer.token).get(f"/api/v2/runs/run-{cli_run.pk}")
    assert _held_until(cli_run) > timezone.now()  # canceled: nothing to release


@pytest.mark.parametrize("read", ["apply", "apply log"])
def test_a_cli_that_read_the_plans_end_before_the_confirmation_releases_on_the_apply(
    personas, read
):
    from runs import machine

    env = environment()
    run = RunFactory(environment=env, status=Status.PLANNED, source=Source.TFE_CLI)
    append_text(run, "plan", "Plan: 1 to add.\n")
    # The CLI reads the plan's end while the run is still planned, then the
    # run, then follows the apply (Terraform's waitForRun stops at "planned").
    plan_log = f"/api/v2/run-logs/{log_token(run, 'plan')}"
    assert APIClient().get(plan_log).content.endswith(b"\x03")
    writer = v2(personas.writer.token)
    assert writer.get(f"/api/v2/runs/run-{run.pk}").status_code == 200
    machine.confirm(Run.objects.get(pk=run.pk), auto=True)
    assert _held_until(run) > timezone.now()
    if read == "apply":
        assert writer.get(f"/api/v2/applies/apply-{run.pk}").status_code == 200
    else:
        assert APIClient().get(f"/api/v2/run-logs/{log_token(run, 'apply')}").status_code == 200
    assert _held_until(run) <= timezone.now()
