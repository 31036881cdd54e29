"""The run queue: one active run per environment, later runs wait in order.

The active run holds the environment's lock: `Environment.locked` with no
`locked_by` and the reason `Held by run #N` (what people see), and
`Run.holds_lock` (a partial unique index allows one holder per
environment). Every decision about who holds an environment is taken with
the environment's row locked (`select_for_update`; on SQLite the IMMEDIATE
transaction holds the database's write lock), so two processes never both
start a run of the same environment. A lock taken by hand holds the queue
until it is released. Runs of different environments run in parallel on
whichever workers are free.

Each phase (plan, apply) is one task of Django's Tasks API
(`runs.tasks.execute_run`), enqueued in the same transaction that takes the
lock or confirms the run, so a committed move never lacks its task.
"""

import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import Token
from environments import locking
from environments.models import Environment
from environments.selectors import latest_runnable_version

from .models import Run, Status

logger = logging.getLogger("atlas.runs")

RUN_LOCK_PREFIX = "Held by run #"


class NoConfigurationVersion(Exception):
    """The environment has no finished configuration version to run."""


def lock_reason(run_or_id):
    return f"{RUN_LOCK_PREFIX}{getattr(run_or_id, 'pk', run_or_id)}"


def lock_environment_row(environment_id):
    """The environment's row, locked for the rest of the transaction."""
    return Environment.objects.select_for_update().get(pk=environment_id)


def holds_run_lock(environment, run_id):
    """True when the environment's lock is the one run `run_id` took."""
    return (
        environment.locked
        and environment.locked_by_id is None
        and environment.lock_reason == lock_reason(run_id)
    )


def queue_run(
    environment,
    user,
    *,
    destroy=False,
    version=None,
    source=None,
    speculative=False,
    terraform_version=None,
    variables=None,
    message="",
    auto_apply=None,
):
    """Create a pending run on `version` (default: the latest finished one)
    and start it at once when the environment is free.

    A speculative run (a plan only) starts at once whatever holds the
    environment: it never takes the lock. `variables` (runs.variables) are
    sealed on the run before any worker can see it.
    """
    from . import variables as run_variables
    from . import versions
    from .logs import append_line
    from .models import Source

    version = version or latest_runnable_version(environment)
    if version is None:
        raise NoConfigurationVersion(environment)
    source = source or Source.API
    if terraform_version is None:
        terraform_version = versions.for_run(environment, tfe=source == Source.TFE_CLI)
    # One transaction, one commit (each costs a disk flush): the run, its
    # first log line and, when the environment is free, its task, which a
    # waiting worker is woken for at that commit.
    with transaction.atomic():
        run = Run.objects.create(
            environment=environment,
            configuration_version=version,
            destroy=bool(destroy),
            created_by=user,
            source=source,
            speculative=bool(speculative),
            terraform_version=terraform_version,
            message=message[:500],
            auto_apply=auto_apply,
        )
        run_variables.store(run, variables)
        kind = "Destroy plan" if run.destroy else ("Speculative plan" if speculative else "Plan")
        who = user.username if user else "the system"
        append_line(
            run,
            "plan",
            f"{kind} queued by {who} on configuration version {version.number} "
            f"(Terraform {terraform_version}).",
        )
        if speculative:
            enqueue(run)
        else:
            advance(environment.pk)
    run.refresh_from_db()
    return run


def enqueue(run, delay=None):
    """Enqueue the task of the run's next phase (call inside the transaction
    that made the run ready for it), to start no sooner than `delay` (a
    timedelta) from now if given."""
    from .tasks import execute_run

    task = execute_run if delay is None else execute_run.using(run_after=timezone.now() + delay)
    result = task.enqueue(run.pk)
    Run.objects.filter(pk=run.pk).update(task_id=str(result.id))
    run.task_id = str(result.id)
    return result


def release_now(run):
    """Make the run's queued task, held by a `delay` at enqueue, ready now and
    wake the workers. True if a held task was released."""
    from django_tasks_db.models import DBTaskResult, TaskResultStatus, get_date_max

    from .wakeup import notify_enqueued

    if not run.task_id:
        return False
    now = timezone.now()
    with transaction.atomic():
        released = DBTaskResult.objects.filter(
            pk=run.task_id,
            status=TaskResultStatus.READY,
            run_after__gt=now,
            run_after__lt=get_date_max(),  # the queue's "no delay"
        ).update(run_after=now)
        if released:
            notify_enqueued(sender=None, task_result=None)
    return bool(released)


def advance(environment_id):
    """Start the environment's oldest pending run if nothing holds it.

    Returns the run that took the lock, or None.
    """
    with transaction.atomic():
        environment = Environment.objects.select_for_update().filter(pk=environment_id).first()
        if environment is None or environment.locked:
            return None
        if Run.objects.filter(environment_id=environment_id, holds_lock=True).exists():
            return None  # a lock forced open whose run is still being ended
        run = (
            Run.objects.filter(
                environment_id=environment_id, status=Status.PENDING, speculative=False
            )
            .order_by("id")
            .first()
        )
        if run is None:
            return None
        Environment.objects.filter(pk=environment_id).update(**locking.run_lock(run))
        Run.objects.filter(pk=run.pk).update(holds_lock=True)
        run.holds_lock = True
        enqueue(run)
    return run


def run_finished(run, environment):
    """A run reached a final status: free its environment, revoke its tokens
    and start the next run. Called by `machine.transition` inside its
    transaction, with the environment row locked."""
    if holds_run_lock(environment, run.pk):
        Environment.objects.filter(pk=environment.pk).update(**locking.RELEASED)
        environment.locked = False
    revoke_tokens(run)
    advance(environment.pk)


def revoke_tokens(run):
    Token.objects.filter(pk__in=run.tokens.values("pk"), revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def lock_holder(environment):
    """The run holding the environment, or None (free, or locked by hand)."""
    if not environment.locked or environment.locked_by_id is not None:
        return None
    return Run.objects.filter(environment=environment, holds_lock=True).first()


def environment_unlocked(environment):
    """The environment's lock was released by hand: the queue may move."""
    advance(environment.pk)


def lock_forced_open(environment, user, holder=None, reason=""):
    """An admin forced the environment's lock open while a run held it.

    The run that held it ends `canceled` (a running one is interrupted by its
    worker, which sees that the run is no longer its own), its log says who
    forced the lock and why, and the next run starts.
    """
    from .logs import append_line
    from .machine import TERMINAL, transition

    for run in Run.objects.filter(environment_id=environment.pk, holds_lock=True):
        phase = "apply" if run.status in (Status.CONFIRMED, Status.APPLYING) else "plan"
        who = user.username if user else "an admin"
        append_line(
            run,
            phase,
            f"The environment's lock was forced open by {who}{': ' + reason if reason else ''}.",
        )
        Run.objects.filter(pk=run.pk).update(cancel_requested_at=timezone.now())
        if run.status not in TERMINAL:
            transition(run, Status.CANCELED, ended_by=user)
        else:
            Run.objects.filter(pk=run.pk).update(holds_lock=False)
    advance(environment.pk)
