"""End to end: the real Terraform 0.11.11 in the sandbox, a live server and a
real worker process (`manage.py run_worker`).

Configurations are small (outputs, `terraform_remote_state` data sources) so
no provider is downloaded and each run takes a few seconds.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Token
from environments.models import Environment
from runs.logs import read_log
from runs.models import Run, Status
from states.models import EnvironmentState, StateVersion

from .conftest import wait_for, wait_for_status
from .e2e import (
    CHANGING,
    SlowServer,
    outputs,
    push,
    request,
    slow_configuration,
    state,
    terraform_push,
)
from .factories import environment

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _log(run, phase="plan"):
    return read_log(run, phase)[0].decode()


def _latest_run(slug="acme/app"):
    username, name = slug.split("/")
    return wait_for(
        lambda: Run.objects.filter(
            environment__namespace__name=username, environment__name=name
        ).first(),
        timeout=20,
        message=f"a run of {slug}",
    )


def _action(live_server, token, run, action):
    status, body, _ = request(
        "POST", f"{live_server.url}/api/v1/runs/{run.pk}/actions/{action}", token
    )
    assert status == 200, body
    return json.loads(body)["run"]


def test_push_plan_confirm_apply_changes_the_state_and_records_the_run(
    personas, live_server, workers, tmp_path
):
    workers.start()
    token = personas.writer.token
    output = terraform_push(
        live_server.url, token, tmp_path / "config", CHANGING, "-var", "greeting=hi"
    )
    assert "uploaded! (v1)" in output
    run = wait_for_status(_latest_run(), Status.PLANNED, timeout=60)
    assert run.resource_additions == 0 and run.has_changes
    assert "Refreshing Terraform state" in _log(run)
    assert state(live_server.url, token, "acme/app") is None

    body = _action(live_server, token, run, "confirm")
    assert body["status"] == "confirmed"
    run = wait_for_status(run, Status.APPLIED, timeout=60)

    assert outputs(state(live_server.url, token, "acme/app")) == {"greeting": "hi"}
    versions = list(StateVersion.objects.filter(environment=run.environment))
    assert versions and {v.run_id for v in versions} == {str(run.pk)}
    assert EnvironmentState.objects.get(environment=run.environment).head.run_id == str(run.pk)
    assert "Apply complete!" in _log(run, "apply")
    assert not Environment.objects.get(pk=run.environment_id).locked
    tokens = list(Run.objects.get(pk=run.pk).tokens.all())
    assert len(tokens) == 2 and all(t.revoked_at is not None for t in tokens)
    assert {v.token_id for v in versions} <= {t.pk for t in tokens}


def test_auto_apply_goes_through_without_confirmation_then_destroy_empties_the_state(
    personas, live_server, workers
):
    environment("app", auto_apply=True)
    workers.start()
    token = personas.writer.token
    push(live_server.url, token, "acme/app", {"main.tf": CHANGING})
    run = wait_for_status(_latest_run(), Status.APPLIED, timeout=90)
    assert run.auto_applied and run.confirmed_by is None
    assert outputs(state(live_server.url, token, "acme/app")) == {"greeting": "hello"}

    Environment.objects.filter(name="app").update(auto_apply=False)
    status, body, _ = request(
        "POST", f"{live_server.url}/api/v1/environments/acme/app/plan", token, {"destroy": True}
    )
    assert status == 200, body
    destroy = Run.objects.get(pk=json.loads(body)["run"]["id"])
    assert destroy.destroy
    wait_for_status(destroy, Status.PLANNED, timeout=60)
    assert "-destroy" in _log(destroy)
    _action(live_server, token, destroy, "confirm")
    wait_for_status(destroy, Status.APPLIED, timeout=60)
    assert outputs(state(live_server.url, token, "acme/app")) == {}
    assert StateVersion.objects.filter(run_id=str(destroy.pk)).exists()


def test_a_configuration_with_an_error_ends_errored_with_terraforms_message(
    personas, live_server, workers
):
    workers.start()
    broken = 'output "x" {\n  value = "${var.missing}"\n}\n'
    push(live_server.url, personas.writer.token, "acme/app", {"main.tf": broken})
    run = wait_for_status(_latest_run(), Status.ERRORED, timeout=60)
    log = _log(run)
    assert "unknown variable referenced: 'missing'" in log
    assert run.message.startswith("terraform")
    assert not Environment.objects.get(pk=run.environment_id).locked


def test_terraform_remote_state_of_another_environment_works_inside_a_run(
    personas, live_server, workers
):
    token = personas.writer.token
    shared = {
        "version": 3,
        "serial": 1,
        "lineage": "6c1c4d2f-7f55-4a38-9b5e-6a0f1f1f1f1f",
        "modules": [
            {
                "path": ["root"],
                "outputs": {"greeting": {"sensitive": False, "type": "string", "value": "hi"}},
                "resources": {},
                "depends_on": [],
            }
        ],
    }
    status, body, _ = request(
        "PUT", f"{live_server.url}/api/v1/terraform/state/acme/shared", token, shared
    )
    assert status == 200, body
    config = CHANGING.replace(
        '"${var.greeting}"', '"${data.terraform_remote_state.shared.greeting}"'
    )
    config += (
        'data "terraform_remote_state" "shared" {\n'
        '  backend = "atlas"\n'
        '  config { name = "acme/shared" }\n'
        "}\n"
    )
    environment("app", auto_apply=True)
    workers.start()
    push(live_server.url, token, "acme/app", {"main.tf": config})
    run = wait_for_status(_latest_run(), [Status.APPLIED, Status.ERRORED], timeout=90)
    assert run.status == Status.APPLIED, _log(run) + _log(run, "apply")
    assert outputs(state(live_server.url, token, "acme/app")) == {"greeting": "hi"}


def test_a_configuration_reading_the_servers_secrets_fails_and_leaks_nothing(
    personas, live_server, workers, isolated_data
):
    targets = [settings.ATLAS_KEYS_FILE, str(isolated_data.root / "secret_key")]
    database = Run.objects.db_manager().db
    from django.db import connections

    db_name = connections[database].settings_dict["NAME"]
    if os.path.isabs(str(db_name)):
        targets.append(str(db_name))
    config = "".join(
        f'output "leak{n}" {{ value = "${{file("{path}")}}" }}\n' for n, path in enumerate(targets)
    )
    environment("app", auto_apply=True)
    workers.start()
    wait_for(lambda: os.path.exists(targets[1]), timeout=20, message="the worker's secret key")
    push(live_server.url, personas.writer.token, "acme/app", {"main.tf": config})
    run = wait_for_status(_latest_run(), [Status.ERRORED, Status.APPLIED], timeout=60)
    assert run.status == Status.ERRORED
    log = _log(run) + _log(run, "apply")
    assert "no such file or directory" in log
    secrets = [Path(settings.ATLAS_KEYS_FILE).read_text(), Path(targets[1]).read_text()]
    for secret in secrets:
        for piece in (secret.strip(), *secret.split()):
            if len(piece) > 12:
                assert piece not in log
    assert not run.plan_blob
    assert not StateVersion.objects.exists()


def test_the_run_token_is_refused_once_the_run_has_ended(personas, live_server, workers):
    workers.start()
    push(live_server.url, personas.writer.token, "acme/app", {"main.tf": CHANGING})
    run = wait_for_status(_latest_run(), Status.PLANNED, timeout=60)
    (token,) = Run.objects.get(pk=run.pk).tokens.all()
    assert token.kind == Token.Kind.RUN and token.revoked_at is not None
    # The plan read the (empty) state with this token while it was valid.
    assert token.last_used_at is not None or "Refreshing" in _log(run)


def test_cancel_of_a_running_plan_ends_it_canceled_within_the_grace_period(
    personas, live_server, workers
):
    with SlowServer() as slow:
        workers.start()
        push(
            live_server.url,
            personas.writer.token,
            "acme/app",
            {"main.tf": slow_configuration(slow.url)},
        )
        run = wait_for_status(_latest_run(), Status.PLANNING, timeout=30)
        assert slow.requests.wait(30), "Terraform never reached the slow server"
        started = time.monotonic()
        body = _action(live_server, personas.writer.token, run, "cancel")
        assert body["status"] == "planning" and body["cancel_requested"] is True
        run = wait_for_status(run, Status.CANCELED, timeout=20)
        elapsed = time.monotonic() - started
    # detection (≤ 1 s) + grace (3 s) + exit and bookkeeping
    assert elapsed < 10
    log = _log(run)
    assert "Cancel requested by writer" in log
    assert "Interrupt received" in log or "killed" in log
    assert "Plan canceled." in log
    assert not Environment.objects.get(pk=run.environment_id).locked


def test_a_worker_killed_mid_plan_is_reaped_and_the_next_run_proceeds(
    personas, live_server, workers
):
    token = personas.writer.token
    with SlowServer() as slow:
        doomed = workers.start()
        push(live_server.url, token, "acme/app", {"main.tf": slow_configuration(slow.url)})
        first = wait_for_status(_latest_run(), Status.PLANNING, timeout=30)
        assert slow.requests.wait(30)
        push(live_server.url, token, "acme/app", {"main.tf": CHANGING})
        second = Run.objects.exclude(pk=first.pk).get()
        assert second.status == Status.PENDING

        workers.kill(doomed)
        killed_at = time.monotonic()
        workers.start()
        first = wait_for_status(first, Status.ERRORED, timeout=30)
        reaped_after = time.monotonic() - killed_at
        assert reaped_after < 15  # stale after 4 s, reaped every 1 s
        log = _log(first)
        assert "stopped sending heartbeats" in log
        assert "the run is errored and the environment freed" in log
        second = wait_for_status(second, Status.PLANNED, timeout=60)
    assert (
        Environment.objects.get(pk=second.environment_id).lock_reason == f"Held by run #{second.pk}"
    )
    assert not any(t.revoked_at is None for t in Run.objects.get(pk=first.pk).tokens.all())
    # The killed worker's Terraform did not survive it.
    assert not [p for p in _processes() if "atlas-worker-" in p]


def _processes():
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    found.append(handle.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    return found


__all__ = ["signal"]
