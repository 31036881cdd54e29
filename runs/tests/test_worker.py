"""The worker's phases, executed synchronously with a fake Terraform (a shell
script run in the same sandbox as the real one; see fake_terraform.sh).

These need `transaction=True`: the heartbeat thread has its own database
connection and must see the run.
"""

import re
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import Token
from atlas.blobs import blob_storage, read_blob
from environments.models import Environment
from environments.services import save_variable
from runs import machine
from runs.executor import execute
from runs.logs import MASK, read_log
from runs.models import Run, Status
from runs.process import Control, Heartbeat
from runs.queue import queue_run
from runs.relay import PLACEHOLDER_TOKEN

from .conftest import wait_for, wait_for_status
from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db(transaction=True)

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


def _queue(personas, files=None, auto_apply=False, **kwargs):
    env = environment("app", auto_apply=auto_apply)
    version = finished_version(env, files or {"main.tf": "# nothing\n"})
    return queue_run(env, personas.writer.user, version=version, **kwargs)


def _log(run, phase="plan"):
    return read_log(run, phase)[0].decode()


def test_a_plan_with_changes_ends_planned_with_counts_and_an_encrypted_plan_file(
    personas, fake_terraform
):
    run = _queue(personas)
    assert execute(run.pk) == Status.PLANNED
    run.refresh_from_db()
    assert run.status == Status.PLANNED
    assert (run.has_changes, run.resource_additions, run.resource_changes) == (True, 1, 0)
    assert read_blob(run.plan_blob, run.plan_key_id) == b"tfplan\x02fake plan\n"
    with blob_storage().open(run.plan_blob, "rb") as stored:
        assert b"fake plan" not in stored.read()
    log = _log(run)
    assert "$ terraform init -input=false -no-color -reconfigure" in log
    assert "fake terraform plan" in log
    assert "-detailed-exitcode" in log
    assert "Plan finished: 1 to add, 0 to change, 0 to destroy." in log
    assert Environment.objects.get(pk=run.environment_id).locked  # awaiting confirmation
    assert all(t.revoked_at for t in run.tokens.all())


def test_a_confirmed_run_applies_from_the_stored_plan_file_and_frees_the_environment(
    personas, fake_terraform
):
    apply_script = 'for a; do last="$a"; done; echo "applying $last"; cat "$last"\n'
    run = _queue(personas, {"main.tf": "#\n", "apply.sh": apply_script})
    execute(run.pk)
    machine.confirm(Run.objects.get(pk=run.pk), personas.writer.user)
    assert execute(run.pk) == Status.APPLIED
    run.refresh_from_db()
    assert run.status == Status.APPLIED
    log = _log(run, "apply")
    assert "Confirmed by writer" in log
    assert "fake plan" in log  # apply was given exactly the stored plan file
    assert "Apply finished." in log
    assert not Environment.objects.get(pk=run.environment_id).locked
    assert execute(run.pk).startswith("nothing to do")  # never applied twice


def test_a_plan_without_changes_finishes_the_run(personas, fake_terraform):
    run = _queue(personas, {"main.tf": "#\n", "plan.sh": "echo 'No changes.'; exit 0\n"})
    execute(run.pk)
    run.refresh_from_db()
    assert run.status == Status.PLANNED_AND_FINISHED
    assert run.has_changes is False
    assert not Environment.objects.get(pk=run.environment_id).locked


def test_a_failing_plan_errors_with_terraforms_message_in_the_log(personas, fake_terraform):
    script = "echo 'Error: resource \"x\" is broken' >&2; exit 1\n"
    run = _queue(personas, {"main.tf": "#\n", "plan.sh": script})
    execute(run.pk)
    run.refresh_from_db()
    assert run.status == Status.ERRORED
    assert run.message == "terraform plan failed (exit status 1)."
    assert 'Error: resource "x" is broken' in _log(run)
    assert not Environment.objects.get(pk=run.environment_id).locked


def test_auto_apply_confirms_on_its_own(personas, fake_terraform):
    run = _queue(personas, auto_apply=True)
    execute(run.pk)
    run.refresh_from_db()
    assert run.status == Status.CONFIRMED
    assert run.auto_applied and run.confirmed_by is None
    assert DBTaskResult.objects.filter(id=run.task_id, status="READY").exists()
    execute(run.pk)
    assert Run.objects.get(pk=run.pk).status == Status.APPLIED


def test_a_destroy_run_plans_with_destroy(personas, fake_terraform):
    run = _queue(personas, destroy=True)
    execute(run.pk)
    assert "-destroy" in _log(run)


def test_terraform_gets_only_its_own_environment_and_secrets_are_masked(
    personas, fake_terraform, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", "postgres://server:dbpassword@db/atlas")
    monkeypatch.setenv("SECRET_KEY", "server-secret-key")
    script = (
        'env | sort; for a in "$@"; do case "$a" in '
        '-var-file=*) cat "${a#-var-file=}";; esac; done; exit 0\n'
    )
    env = environment("app")
    for category, key, value, sensitive in [
        ("terraform", "greeting", "hello", False),
        ("terraform", "db_password", "tf-secret-value", True),
        ("env", "API_KEY", "env-secret-value", True),
    ]:
        save_variable(
            env, None, key=key, category=category, value=value, hcl=False, sensitive=sensitive
        )
    version = finished_version(env, {"main.tf": "#\n", "plan.sh": script})
    run = queue_run(env, personas.writer.user, version=version)
    execute(run.pk)
    log = _log(run)
    # The run token stays with the worker's relay: Terraform holds a placeholder.
    assert f"ATLAS_TOKEN={PLACEHOLDER_TOKEN}\n" in log
    assert f"ATLAS_RUN_ID={run.pk}\n" in log
    assert "ATLAS_CONFIGURATION_SLUG=acme/app\n" in log
    assert "ATLAS_CONFIGURATION_NAME=app\n" in log
    assert f"ATLAS_CONFIGURATION_VERSION={version.number}\n" in log
    assert re.search(r"^ATLAS_ADDRESS=http://127\.0\.0\.1:\d+$", log, re.MULTILINE)
    assert "127.0.0.1:9\n" not in log  # the server's own address stays with the relay
    assert "CHECKPOINT_DISABLE=1\n" in log
    assert f"API_KEY={MASK}\n" in log
    assert '"greeting" = "hello"' in log
    assert f'"db_password" = "{MASK}"' in log
    for leaked in ("tf-secret-value", "env-secret-value", "dbpassword", "server-secret-key"):
        assert leaked not in log
    assert "DJANGO_SETTINGS_MODULE" not in log
    assert "DATABASE_URL" not in log


def test_the_run_token_acts_for_the_queuing_user_on_this_environment_and_dies_with_the_phase(
    personas, fake_terraform
):
    run = _queue(personas)
    execute(run.pk)
    (token,) = Run.objects.get(pk=run.pk).tokens.all()
    assert token.kind == Token.Kind.RUN
    assert token.user == personas.writer.user
    assert token.scope_environment_id == run.environment_id
    assert token.expires_at is not None
    assert token.revoked_at is not None


def test_a_run_whose_user_is_gone_errors_with_a_reason(personas, fake_terraform):
    run = _queue(personas)
    Run.objects.filter(pk=run.pk).update(created_by=None)
    execute(run.pk)
    run.refresh_from_db()
    assert run.status == Status.ERRORED
    assert "can no longer act" in _log(run)
    assert not Environment.objects.get(pk=run.environment_id).locked


@needs_bwrap
def test_inside_the_sandbox_the_servers_files_do_not_exist(personas, fake_terraform, settings):
    keys = settings.ATLAS_KEYS_FILE
    script = (
        f"cat {keys} && echo READ-KEYS; "
        f"ls {django_settings.DATA_DIR} && echo LISTED-DATA; "
        f"ls {django_settings.BASE_DIR} && echo LISTED-SOURCE; "
        "id -u; exit 0\n"
    )
    run = _queue(personas, {"main.tf": "#\n", "plan.sh": script})
    key_material = Path(keys).read_text()
    execute(run.pk)
    log = _log(run)
    assert "Terraform runs in a sandbox." in log
    assert "No such file or directory" in log
    for marker in ("READ-KEYS", "LISTED-DATA", "LISTED-SOURCE", key_material.strip()[:40]):
        assert marker not in log
    assert "65534" in log


def _execute_in_thread(run):
    def target():
        try:
            execute(run.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_cancel_interrupts_a_running_plan_and_ends_it_canceled_with_its_log(
    personas, fake_terraform
):
    script = "trap 'echo got interrupt; exit 1' INT; echo sleeping; sleep 30 & wait\n"
    run = _queue(personas, {"main.tf": "#\n", "plan.sh": script})
    thread = _execute_in_thread(run)
    wait_for(lambda: "sleeping" in _log(run), timeout=20, message="the plan to start")
    started = time.monotonic()
    machine.cancel(Run.objects.get(pk=run.pk), personas.admin.user)
    thread.join(timeout=30)
    assert time.monotonic() - started < 10
    run.refresh_from_db()
    assert run.status == Status.CANCELED
    log = _log(run)
    assert "Cancel requested by admin" in log
    assert "got interrupt" in log
    assert "Plan canceled." in log
    assert not Environment.objects.get(pk=run.environment_id).locked


def test_terraform_that_ignores_the_interrupt_is_killed_after_the_grace_period(
    personas, fake_terraform
):
    script = "trap '' INT; echo stubborn; sleep 60\n"
    run = _queue(personas, {"main.tf": "#\n", "plan.sh": script})
    thread = _execute_in_thread(run)
    wait_for(lambda: "stubborn" in _log(run), timeout=20, message="the plan to start")
    machine.cancel(Run.objects.get(pk=run.pk), personas.admin.user)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert wait_for_status(run, Status.CANCELED).status == Status.CANCELED
    assert "did not stop within 2 s of the interrupt: killed." in _log(run)


def test_a_worker_stops_terraform_when_its_run_was_ended_elsewhere(personas, fake_terraform):
    run = _queue(personas, {"main.tf": "#\n", "plan.sh": "echo busy; sleep 60\n"})
    thread = _execute_in_thread(run)
    wait_for(lambda: "busy" in _log(run), timeout=20, message="the plan to start")
    assert machine.transition(Run.objects.get(pk=run.pk), Status.ERRORED, message="reaped")
    thread.join(timeout=30)
    assert not thread.is_alive()
    run.refresh_from_db()
    assert run.status == Status.ERRORED and run.message == "reaped"
    assert "ended elsewhere" in _log(run)


def test_a_phase_whose_thread_is_stuck_stops_heartbeating_so_the_reaper_can_end_it(
    personas, settings
):
    settings.ATLAS_RUN_STALE_SECONDS = 5
    env = environment("app")
    long_ago = timezone.now() - timedelta(minutes=5)
    run = RunFactory(environment=env, status=Status.PLANNING, worker_id="w", heartbeat_at=long_ago)
    control = Control()
    heartbeat = Heartbeat(run.pk, Status.PLANNING, "w", control)
    control.progressed_at -= 60  # the phase's thread has waited a minute on something
    heartbeat.beat()
    assert Run.objects.get(pk=run.pk).heartbeat_at == long_ago
    assert heartbeat.stalled and not control.lost.is_set()
    control.progress()
    heartbeat.beat()
    assert Run.objects.get(pk=run.pk).heartbeat_at > long_ago


def test_terraform_output_past_the_log_limit_is_not_kept_and_the_phase_goes_on(
    personas, fake_terraform, settings
):
    settings.ATLAS_RUN_LOG_MAX_BYTES = 100_000
    flood = (
        "i=0; while [ $i -lt 4000 ]; do echo 'flooding the log .......................';"
        " i=$((i+1)); done; exit 0\n"
    )
    run = _queue(personas, {"main.tf": "#\n", "plan.sh": flood})
    assert execute(run.pk) == Status.PLANNED_AND_FINISHED
    log = _log(run)
    assert "The log reached 100000 bytes (ATLAS_RUN_LOG_MAX_BYTES)" in log
    assert 100_000 < len(log.encode()) < 110_000
    assert log.endswith("[atlas] No changes: nothing to apply.\n")
