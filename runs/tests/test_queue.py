"""The queue (one active run per environment, in order, held by hand locks)
and the reaper (nothing stays pending or running forever)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from environments.models import Environment
from environments.services import lock_environment, unlock_environment
from runs import reaper
from runs.logs import read_log
from runs.models import Run, Status
from runs.queue import advance, lock_forced_open, lock_holder, lock_reason, queue_run

from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(personas):
    def make(env=None, count=1):
        env = env or environment("app")
        version = finished_version(env)
        return [queue_run(env, personas.writer.user, version=version) for _ in range(count)]

    return make


def _status(run):
    return Run.objects.get(pk=run.pk).status


def _log(run, phase="plan"):
    return read_log(run, phase)[0].decode()


def test_the_database_allows_one_lock_holder_per_environment(personas):
    env = environment("app")
    RunFactory(environment=env, configuration_version=finished_version(env), holds_lock=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        RunFactory(environment=env, configuration_version=finished_version(env), holds_lock=True)


def test_different_environments_each_get_their_own_active_run(personas, queued):
    (a,) = queued(environment("a"))
    (b,) = queued(environment("b"))
    assert Run.objects.get(pk=a.pk).holds_lock and Run.objects.get(pk=b.pk).holds_lock
    assert DBTaskResult.objects.count() == 2


def test_advancing_a_held_environment_starts_nothing(personas, queued):
    first, second = queued(count=2)
    assert advance(first.environment_id) is None
    assert lock_holder(first.environment) == first
    assert not Run.objects.get(pk=second.pk).holds_lock


def test_a_lock_taken_by_hand_holds_the_queue_until_it_is_released(personas, queued):
    env = environment("app")
    lock_environment(env, personas.admin.user, "maintenance")
    (run,) = queued(env)
    assert not Run.objects.get(pk=run.pk).holds_lock
    assert not DBTaskResult.objects.exists()
    assert reaper.restart_queues() == []

    unlock_environment(env, personas.admin.user)
    assert reaper.restart_queues() == [run.pk]
    env.refresh_from_db()
    assert env.lock_reason == lock_reason(run) and env.locked_by is None
    assert DBTaskResult.objects.filter(id=Run.objects.get(pk=run.pk).task_id).exists()


def test_forcing_a_run_lock_open_cancels_the_run_says_so_and_starts_the_next(personas, queued):
    first, second = queued(count=2)
    env = Environment.objects.get(pk=first.environment_id)
    unlock_environment(env, personas.admin.user, force=True, reason="stuck")
    lock_forced_open(env, personas.admin.user, "a run", "stuck")
    assert _status(first) == Status.CANCELED
    assert "lock was forced open by admin: stuck" in _log(first)
    env.refresh_from_db()
    assert env.lock_reason == lock_reason(second)


def test_the_reaper_errors_a_run_whose_worker_stopped_heartbeating(personas, queued):
    first, second = queued(count=2)
    stale = timezone.now() - timedelta(minutes=5)
    Run.objects.filter(pk=first.pk).update(
        status=Status.PLANNING, heartbeat_at=stale, worker_id="gone:1"
    )
    DBTaskResult.objects.filter(id=first.task_id).update(status="RUNNING")

    done = reaper.reap()

    assert done["errored"] == [first.pk]
    first.refresh_from_db()
    assert first.status == Status.ERRORED
    assert "Worker gone:1 stopped sending heartbeats" in _log(first)
    assert DBTaskResult.objects.get(id=first.task_id).status == "FAILED"
    assert Run.objects.get(pk=second.pk).holds_lock
    assert reaper.reap()["errored"] == []


def test_the_reaper_leaves_a_live_run_alone(personas, queued):
    (run,) = queued()
    Run.objects.filter(pk=run.pk).update(status=Status.APPLYING, heartbeat_at=timezone.now())
    assert reaper.reap()["errored"] == []
    assert _status(run) == Status.APPLYING


def test_a_reaped_apply_is_never_started_again(personas, queued):
    (run,) = queued()
    stale = timezone.now() - timedelta(minutes=5)
    Run.objects.filter(pk=run.pk).update(status=Status.APPLYING, heartbeat_at=stale)
    reaper.reap()
    assert _status(run) == Status.ERRORED
    assert "The apply is not retried" in _log(run, "apply")
    reaper.reap()
    assert _status(run) == Status.ERRORED


def test_a_run_whose_task_died_with_its_worker_gets_a_new_task(personas, queued):
    (run,) = queued()
    old_task = run.task_id
    DBTaskResult.objects.filter(id=old_task).update(
        status="RUNNING", started_at=timezone.now() - timedelta(minutes=5)
    )
    assert reaper.reap()["requeued"] == [run.pk]
    run.refresh_from_db()
    assert run.task_id != old_task
    assert DBTaskResult.objects.get(id=run.task_id).status == "READY"
    assert DBTaskResult.objects.get(id=old_task).status == "FAILED"
    assert reaper.reap()["requeued"] == []


def test_a_run_waiting_for_a_worker_keeps_its_task(personas, queued):
    (run,) = queued()
    assert reaper.reap()["requeued"] == []
    assert [str(i) for i in DBTaskResult.objects.values_list("id", flat=True)] == [
        Run.objects.get(pk=run.pk).task_id
    ]


def test_an_unconfirmed_plan_is_discarded_after_the_timeout(personas, queued, settings):
    settings.ATLAS_RUN_CONFIRM_TIMEOUT_SECONDS = 60
    first, second = queued(count=2)
    Run.objects.filter(pk=first.pk).update(
        status=Status.PLANNED, planned_at=timezone.now() - timedelta(minutes=2)
    )
    assert reaper.reap()["discarded"] == [first.pk]
    assert "Not confirmed within 60 s" in _log(first)
    assert Run.objects.get(pk=second.pk).holds_lock


def test_a_run_lock_that_outlived_its_run_is_released(personas, queued):
    (run,) = queued()
    Run.objects.filter(pk=run.pk).update(status=Status.ERRORED, holds_lock=False)
    reaper.restart_queues()
    assert not Environment.objects.get(pk=run.environment_id).locked
