"""Two worker processes on one database: runs of different environments run
in parallel, runs of one environment one after the other, in order.

Meant for PostgreSQL (`DATABASE_URL=postgres://...`), where any number of
workers on any number of machines share the queue; it runs on SQLite too.
"""

import pytest

from runs.models import Run, Status
from runs.queue import queue_run

from .conftest import FAKE_TERRAFORM, wait_for
from .factories import environment, finished_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Plans take a while and find no changes, so each run ends on its own.
SLOW_PLAN = {"main.tf": "#\n", "plan.sh": "echo planning; sleep 2; exit 0\n"}


def _interval(run):
    return run.planning_at, run.planned_and_finished_at


def test_two_workers_run_environments_in_parallel_and_each_environment_in_order(personas, workers):
    runs = {}
    for name in ("left", "right"):
        env = environment(name)
        version = finished_version(env, SLOW_PLAN)
        runs[name] = [queue_run(env, personas.writer.user, version=version) for _ in range(2)]
    workers.start(ATLAS_TERRAFORM_BIN=str(FAKE_TERRAFORM))
    workers.start(ATLAS_TERRAFORM_BIN=str(FAKE_TERRAFORM))

    everything = [run.pk for pair in runs.values() for run in pair]
    wait_for(
        lambda: Run.objects.filter(pk__in=everything, status=Status.PLANNED_AND_FINISHED).count()
        == 4,
        timeout=60,
        message="all four runs to finish",
    )
    done = {name: [Run.objects.get(pk=run.pk) for run in pair] for name, pair in runs.items()}

    for first, second in done.values():
        # serial within an environment, in the order queued
        assert first.planned_and_finished_at <= second.planning_at
    left, right = done["left"][0], done["right"][0]
    start = max(left.planning_at, right.planning_at)
    end = min(left.planned_and_finished_at, right.planned_and_finished_at)
    assert start < end, "the first runs of the two environments did not overlap"
    assert left.worker_id != right.worker_id
    assert not Run.objects.filter(holds_lock=True).exists()


def test_a_worker_without_the_sandbox_takes_no_runs_and_says_why(personas, workers):
    env = environment("app")
    run = queue_run(env, personas.writer.user, version=finished_version(env))
    worker = workers.start(PATH="/nonexistent")
    wait_for(
        lambda: "Runs cannot execute here" in workers.output(),
        timeout=20,
        message="the worker's complaint",
    )
    assert "bubblewrap (bwrap) is not installed" in workers.output()
    assert worker.poll() is None
    assert Run.objects.get(pk=run.pk).status == Status.PENDING
