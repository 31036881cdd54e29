"""Writing a run event's deliveries in the transaction that makes the event.

`runs.machine.transition()` calls `record_event()` after its conditional
UPDATE succeeded and before its transaction commits: the new status and
the deliveries it owes are stored together or not at all, and because only
one caller can win a transition, only one set of deliveries is ever
written (the unique (configuration, run, event) guards it anyway). The
tasks that hand them over are enqueued once the transaction has committed;
a task lost on the way (the process died right after the commit) is
enqueued again by `delivery.recover()`.
"""

from functools import partial

from django.db import transaction

from ..models import Status
from .models import Delivery, Event, NotificationConfiguration

EVENTS = {
    Status.PLANNED: Event.PLANNED,
    Status.CONFIRMED: Event.CONFIRMED,
    Status.DISCARDED: Event.DISCARDED,
    Status.APPLYING: Event.APPLYING,
    Status.APPLIED: Event.APPLIED,
    Status.ERRORED: Event.ERRORED,
}


def _who(user):
    return getattr(user, "username", None)


def event_message(run, event):
    """A sentence about the event, as the run stands when it happens."""
    counts = (
        f"{run.resource_additions or 0} to add, {run.resource_changes or 0} to change, "
        f"{run.resource_destructions or 0} to destroy"
    )
    if event == Event.PLANNED:
        return f"Plan finished: {counts}. It needs confirmation."
    if event == Event.CONFIRMED:
        if run.auto_applied:
            return "Confirmed automatically (auto-apply); the apply is queued."
        who = _who(run.confirmed_by)
        return f"Confirmed by {who}; the apply is queued." if who else "Confirmed."
    if event == Event.DISCARDED:
        who = _who(run.ended_by)
        return run.message or (f"Discarded by {who}." if who else "Discarded.")
    if event == Event.APPLYING:
        return f"Applying: {counts}."
    if event == Event.APPLIED:
        return run.message or "Apply finished."
    return run.message or "The run errored."


def record_event(run, status):
    """Write the deliveries that `run` entering `status` owes (inside the
    transition's transaction). A plan that auto-apply confirms at once does
    not need anyone, so it sends no `planned`."""
    event = EVENTS.get(status)
    if event is None:
        return []
    configurations = [
        configuration
        for configuration in NotificationConfiguration.objects.filter(
            environment_id=run.environment_id, enabled=True
        )
        .select_related("environment")
        .only("id", "events", "environment__auto_apply")
        if configuration.wants(event)
    ]
    if event == Event.PLANNED:
        configurations = [c for c in configurations if not c.environment.auto_apply]
    if not configurations:
        return []
    when = getattr(run, f"{status}_at")
    message = event_message(run, event)[:500]
    deliveries = [
        Delivery(
            configuration_id=configuration.pk,
            run_id=run.pk,
            event=event,
            message=message,
            occurred_at=when,
            next_attempt_at=when,
        )
        for configuration in configurations
    ]
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    from .delivery import enqueue

    transaction.on_commit(partial(enqueue, [d.pk for d in deliveries]), robust=True)
    return deliveries
