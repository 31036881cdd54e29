"""The reaper: nothing stays pending or running forever.

Every worker runs `reap()` when it starts and every ATLAS_RUN_REAP_SECONDS.
Each step is a conditional move, so any number of workers may reap at once:

- a planning or applying run whose heartbeat is older than
  ATLAS_RUN_STALE_SECONDS lost its worker (killed, machine gone): it ends
  `errored`, its log says why, its environment is freed and the next run
  starts. An apply is never started again: a reaped apply stays errored;
- a planned run left unconfirmed longer than
  ATLAS_RUN_CONFIRM_TIMEOUT_SECONDS is discarded;
- a run holding its environment whose task was lost (its worker died
  between taking the task and starting the run) gets a new task;
- an environment with pending runs and no holder (a hand lock released)
  starts its next run; a run lock whose run is gone is released.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from environments import locking
from environments.models import Environment

from . import queue
from .logs import append_line
from .machine import TERMINAL, transition
from .models import Run, Status

logger = logging.getLogger("atlas.runs")

LOST_TASK = "runs.reaper.WorkerLost"


def reap(now=None):
    """One pass of every check above; returns what it did, for logs and tests."""
    now = now or timezone.now()
    return {
        "errored": reap_dead_workers(now),
        "discarded": discard_unconfirmed(now),
        "requeued": requeue_lost_tasks(now),
        "started": restart_queues(),
    }


def _stale_before(now):
    return now - timedelta(seconds=settings.ATLAS_RUN_STALE_SECONDS)


def reap_dead_workers(now):
    stale_before = _stale_before(now)
    reaped = []
    candidates = Run.objects.filter(
        status__in=[Status.PLANNING, Status.APPLYING], heartbeat_at__lt=stale_before
    )
    for run in candidates:
        last = run.heartbeat_at
        phase = "plan" if run.status == Status.PLANNING else "apply"
        message = (
            f"Worker {run.worker_id or '?'} stopped sending heartbeats (the last one at "
            f"{last:%Y-%m-%d %H:%M:%S} UTC, more than {settings.ATLAS_RUN_STALE_SECONDS} s "
            f"ago): the worker died, so the run is errored and the environment freed."
        )
        if phase == "apply":
            message += " The apply is not retried: queue a new run if needed."
        if transition(
            run,
            Status.ERRORED,
            expected=[run.status],
            where=Q(heartbeat_at__lt=stale_before),
            message=message[:500],
            log=(phase, message),
        ):
            _fail_task(run, now, "The worker stopped sending heartbeats.")
            logger.warning("Run %s reaped: %s", run.pk, message)
            reaped.append(run.pk)
    return reaped


def discard_unconfirmed(now):
    timeout = settings.ATLAS_RUN_CONFIRM_TIMEOUT_SECONDS
    if not timeout:
        return []
    discarded = []
    for run in Run.objects.filter(
        status=Status.PLANNED, planned_at__lt=now - timedelta(seconds=timeout)
    ):
        message = f"Not confirmed within {timeout} s of its plan: discarded."
        if transition(
            run, Status.DISCARDED, expected=[Status.PLANNED], message=message, log=("plan", message)
        ):
            discarded.append(run.pk)
    return discarded


def requeue_lost_tasks(now):
    """Runs that hold their environment, wait for a worker, and whose task
    will never run (finished, failed, or taken by a worker that died)."""
    stale_before = _stale_before(now)
    requeued = []
    waiting = Run.objects.filter(holds_lock=True, status__in=[Status.PENDING, Status.CONFIRMED])
    for run in waiting:
        task = DBTaskResult.objects.filter(id=run.task_id).first() if run.task_id else None
        if task is not None and (
            task.status == "READY" or (task.status == "RUNNING" and task.started_at > stale_before)
        ):
            continue
        if Run.objects.filter(pk=run.pk, status=run.status, task_id=run.task_id).exists():
            if task is not None:
                _fail_task(run, now, "The worker that took this task stopped.")
            queue.enqueue(run)
            append_line(
                run,
                "plan" if run.status == Status.PENDING else "apply",
                "The run's task was lost with its worker: queued again.",
            )
            requeued.append(run.pk)
    return requeued


def restart_queues():
    """Start environments whose queue should move but did not: a lock taken
    by hand was released, or a run lock outlived its run."""
    for environment in Environment.objects.filter(
        locked=True, locked_by__isnull=True, lock_reason__startswith=queue.RUN_LOCK_PREFIX
    ):
        run_id = environment.lock_reason.removeprefix(queue.RUN_LOCK_PREFIX)
        holder = Run.objects.filter(pk=run_id if run_id.isdigit() else None).first()
        if holder is None or holder.status in TERMINAL:
            Environment.objects.filter(
                pk=environment.pk, lock_reason=environment.lock_reason, locked_by__isnull=True
            ).update(**locking.RELEASED)
            Run.objects.filter(pk=getattr(holder, "pk", None)).update(holds_lock=False)
    # Holders whose lock was forced open without the runs app being told.
    for run in Run.objects.filter(holds_lock=True).select_related("environment"):
        if not queue.holds_run_lock(run.environment, run.pk):
            queue.lock_forced_open(run.environment, None, reason="found by the reaper")
    started = []
    waiting = (
        Run.objects.filter(status=Status.PENDING, holds_lock=False)
        .exclude(environment__in=Environment.objects.filter(locked=True))
        .values_list("environment_id", flat=True)
        .distinct()
    )
    for environment_id in list(waiting):
        run = queue.advance(environment_id)
        if run is not None:
            started.append(run.pk)
    return started


def _fail_task(run, now, reason):
    if run.task_id:
        DBTaskResult.objects.filter(id=run.task_id, status="RUNNING").update(
            status="FAILED",
            finished_at=now,
            exception_class_path=LOST_TASK,
            traceback=reason,
        )
