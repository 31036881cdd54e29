"""The run state machine: every status, every move, and who may make it.

Every change of a run's status goes through `transition()`, a conditional
UPDATE (`WHERE id = ... AND status IN (allowed sources)`): when two workers,
a worker and the reaper, or a worker and a person try to move the same run,
exactly one of them succeeds and the others see False. The API and the web
UI call the actions below (`confirm`, `discard`, `cancel`), never
`transition()` with their own rules.

    pending ─> planning ─> planned ─> confirmed ─> applying ─> applied
                   │           └─> discarded
                   └─> planned_and_finished (no changes)
    any status that is not final ─> canceled | errored
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts import audit

from .models import Run, Source, Status

TERMINAL = frozenset(
    {
        Status.APPLIED,
        Status.PLANNED_AND_FINISHED,
        Status.DISCARDED,
        Status.CANCELED,
        Status.ERRORED,
    }
)
ACTIVE = frozenset(set(Status.values) - TERMINAL)
# `terraform apply` through the TFE API reads its plan's log up to 2 s apart,
# reads the plan once more after the log's end, then reads the run, and stops
# at a run that has already ended: an apply that failed within seconds would
# be reported without its apply log. So an auto-applied CLI run's apply is
# queued to start this long after its plan, and released at once when the
# CLI, having read the plan's log to its end, reads the run or the apply
# (`release_followed_apply`): it has then seen the run before its apply.
# The grace is only the fallback for a CLI that stopped following.
CLI_AUTO_APPLY_GRACE = timedelta(seconds=8)
RUNNING = frozenset({Status.PLANNING, Status.APPLYING})

TRANSITIONS = {
    Status.PENDING: {Status.PLANNING, Status.CANCELED, Status.ERRORED},
    Status.PLANNING: {
        Status.PLANNED,
        Status.PLANNED_AND_FINISHED,
        Status.CANCELED,
        Status.ERRORED,
    },
    Status.PLANNED: {Status.CONFIRMED, Status.DISCARDED, Status.CANCELED, Status.ERRORED},
    Status.CONFIRMED: {Status.APPLYING, Status.CANCELED, Status.ERRORED},
    Status.APPLYING: {Status.APPLIED, Status.CANCELED, Status.ERRORED},
}
for _final in TERMINAL:
    TRANSITIONS[_final] = set()

# What people may do, from which statuses (anything else is a 409).
ACTIONS = {
    "confirm": frozenset({Status.PLANNED}),
    "discard": frozenset({Status.PLANNED}),
    "cancel": frozenset({Status.PENDING, Status.PLANNING, Status.CONFIRMED, Status.APPLYING}),
}


class TransitionRefused(Exception):
    """The run's current status does not allow the move or action."""

    def __init__(self, run, action):
        self.run = run
        self.action = action
        self.status = run.status
        super().__init__(f"Cannot {action} a run that is {run.status}.")


def sources(to):
    """The statuses a run may move to `to` from."""
    return {status for status, targets in TRANSITIONS.items() if to in targets}


def transition(run, to, *, expected=None, where=None, log=None, **fields):
    """Move `run` to status `to`, setting `<to>_at` and `fields`, if allowed.

    `expected` narrows the statuses the move may start from; `where` (a Q)
    adds conditions (the reaper's "heartbeat still stale"); `log`, a (phase,
    message) pair, is written to the run's log in the same transaction, so
    whoever sees the new status also sees why. Returns True when
    this call moved the run; False when the run was elsewhere (then `run`
    holds its current status). A move to a final status releases the
    environment, revokes the run's tokens and starts the next run, in the
    same transaction. So are the notifications the new status owes
    (`notifications.outbox`): written here, sent once the move has committed.
    """
    allowed = sources(to)
    if expected is not None:
        allowed &= set(expected)
    changes = {"status": to, f"{to}_at": timezone.now(), **fields}
    final = to in TERMINAL
    if final:
        changes["holds_lock"] = False
    with transaction.atomic():
        if final:
            from .queue import lock_environment_row

            # The environment row first, as the queue does: one lock order.
            environment = lock_environment_row(run.environment_id)
        rows = Run.objects.filter(pk=run.pk, status__in=allowed)
        if where is not None:
            rows = rows.filter(where)
        if not rows.update(**changes):
            run.status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
            return False
        for name, value in changes.items():
            setattr(run, name, value)
        if log is not None:
            from .logs import append_line

            append_line(run, *log)
        from .notifications.outbox import record_event

        record_event(run, to)
        if final:
            from .queue import run_finished

            run_finished(run, environment)
    return True


def require(run, action):
    if run.status not in ACTIONS[action]:
        raise TransitionRefused(run, action)


def confirm(run, user=None, auto=False):
    """Confirm a planned run; its apply is queued in the same transaction."""
    from .queue import enqueue

    require(run, "confirm")
    who = "auto-apply" if auto else (user.username if user else "the system")
    line = ("apply", f"Confirmed by {who}; the apply is queued.")
    with transaction.atomic():
        if not transition(
            run,
            Status.CONFIRMED,
            expected=[Status.PLANNED],
            confirmed_by=user,
            auto_applied=auto,
            log=line,
        ):
            raise TransitionRefused(run, "confirm")
        _audit(run, "run.confirm", user, {"auto": True} if auto else None)
        enqueue(run, CLI_AUTO_APPLY_GRACE if auto and run.source == Source.TFE_CLI else None)
    return run


def holds_apply_for_cli(run):
    """Whether the run's apply waits for the CLI to follow it (CLI_AUTO_APPLY_GRACE)."""
    return run.status == Status.CONFIRMED and run.auto_applied and run.source == Source.TFE_CLI


def plan_log_read(run):
    """The plan's log was read to its end through its log URL: recorded once."""
    if run.plan_log_read_at is None and run.source == Source.TFE_CLI:
        now = timezone.now()
        Run.objects.filter(pk=run.pk, plan_log_read_at__isnull=True).update(plan_log_read_at=now)
        run.plan_log_read_at = now


def release_followed_apply(run):
    """Start a held apply now if the CLI, having read the plan's log to its end,
    reads the run or its apply (call once the answer it reads is built): it
    has then taken its look at the plan phase. True if released."""
    from .queue import release_now

    if run.plan_log_read_at is None or not holds_apply_for_cli(run):
        return False
    return release_now(run)


def _audit(run, action, user, after=None):
    audit.record(
        action,
        obj=run,
        name=f"run {run.pk} of {run.environment.slug}",
        actor=user,
        after=after,
    )


def discard(run, user=None, reason=""):
    require(run, "discard")
    who = user.username if user else "the system"
    line = ("plan", f"Discarded by {who}{': ' + reason if reason else ''}.")
    with transaction.atomic():
        if not transition(
            run, Status.DISCARDED, expected=[Status.PLANNED], ended_by=user, log=line
        ):
            raise TransitionRefused(run, "discard")
        _audit(run, "run.discard", user, {"reason": reason} if reason else None)
    return run


def cancel(run, user=None):
    """Cancel a run: a waiting one ends at once; a running one is asked to
    stop, and its worker interrupts Terraform (then kills it after a grace
    period) and ends the run `canceled`."""
    from .logs import append_line

    require(run, "cancel")
    who = user.username if user else "the system"
    if run.status in (Status.PENDING, Status.CONFIRMED):
        phase = "plan" if run.status == Status.PENDING else "apply"
        line = (phase, f"Canceled by {who} before it started.")
        with transaction.atomic():
            if transition(
                run,
                Status.CANCELED,
                expected=[Status.PENDING, Status.CONFIRMED],
                ended_by=user,
                log=line,
            ):
                _audit(run, "run.cancel", user)
                return run
        require(run, "cancel")  # it started meanwhile: cancel it as a running run
    asked = Run.objects.filter(
        pk=run.pk, status__in=RUNNING, cancel_requested_at__isnull=True
    ).update(cancel_requested_at=timezone.now(), ended_by=user)
    run.refresh_from_db()
    if not asked:
        if run.status in RUNNING:
            return run  # a cancel was already requested
        raise TransitionRefused(run, "cancel")
    phase = "plan" if run.status == Status.PLANNING else "apply"
    append_line(run, phase, f"Cancel requested by {who}; interrupting Terraform.")
    _audit(run, "run.cancel", user)
    return run
