"""Delivering: claim, one attempt, record, retry with backoff, recover.

A delivery moves by conditional UPDATEs, like runs do:

    pending ──claim──> delivering ──> delivered
       ^                   │    └──> failed (gave up) / pending (retry later)
       └── recover() ──────┘  (lease expired: the worker died mid-attempt)

`claim()` lets exactly one task take a due delivery and writes the attempt
before anything is sent; `finish()` records the outcome only while the
claim is still its own. Tasks may be enqueued twice (after a commit and by
`recover()`): the claim makes the second a no-op. A worker killed while it
sends leaves a lease that expires, and `recover()` (every worker runs it
with its reaper) hands the delivery to the next attempt with the same
delivery id, so the receiver can recognise a repeat.
"""

import logging
import os
import random
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import Level, Membership, Namespace, User

from . import channels, sender
from .models import Delivery, DeliveryAttempt, NotificationConfiguration

logger = logging.getLogger("atlas.notifications")

Status = Delivery.Status
Outcome = DeliveryAttempt.Outcome
MAX_BACKOFF_SECONDS = 3600
# A task may run a moment before the time its delivery recorded.
CLOCK_SLACK = timedelta(seconds=2)
# 4xx answers that a later attempt may turn into a success.
RETRYABLE_CLIENT_ERRORS = {408, 409, 425, 429}
INTERRUPTED = "The worker stopped during this attempt."
LOST_TASK = "runs.notifications.WorkerLost"
# What `finish()` says when recovery gave the delivery to another attempt.
SUPERSEDED = "superseded"


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"[:64]


def lease():
    """How long an attempt may hold its delivery: past its own deadline,
    with room for a slow database, before recovery assumes the worker died."""
    return timedelta(seconds=2 * settings.ATLAS_NOTIFY_TIMEOUT_SECONDS + 5)


def backoff(attempt_number):
    """Seconds before the next attempt: doubling from the base, capped,
    with jitter so that receivers coming back are not hit all at once."""
    base = settings.ATLAS_NOTIFY_RETRY_BASE_SECONDS * 2 ** min(attempt_number - 1, 20)
    return min(base, MAX_BACKOFF_SECONDS) * random.uniform(0.8, 1.2)  # noqa: S311


def enqueue(delivery_ids, run_after=None):
    """One `deliver` task per delivery (after the transaction that wrote
    them has committed)."""
    from .tasks import deliver

    task = deliver if run_after is None else deliver.using(run_after=run_after)
    now = timezone.now()
    for pk in delivery_ids:
        result = task.enqueue(str(pk))
        Delivery.objects.filter(pk=pk).update(enqueued_at=now, task_id=str(result.id))


def deliver(delivery_id):
    """The task's body: one attempt at one delivery, if it is due."""
    claimed = claim(delivery_id)
    if claimed is None:
        return "not claimed"
    delivery, attempt = claimed
    try:
        response = channels.send(delivery)
    except Exception:
        logger.exception("Delivery %s failed", delivery.pk)
        response = sender.Response(
            error="The worker failed while delivering; see the server's log."
        )
    return finish(delivery, attempt, response)


def claim(delivery_id, worker=None):
    """(delivery, attempt) when this caller took a due pending delivery."""
    now = timezone.now()
    with transaction.atomic():
        taken = Delivery.objects.filter(
            pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now + CLOCK_SLACK
        ).update(
            status=Status.DELIVERING,
            attempt_count=F("attempt_count") + 1,
            lease_until=now + lease(),
        )
        if not taken:
            return None
        delivery = Delivery.objects.select_related(
            "configuration__environment__namespace", "run"
        ).get(pk=delivery_id)
        if not delivery.is_test and not delivery.configuration.enabled:
            Delivery.objects.filter(pk=delivery.pk).update(
                status=Status.SKIPPED,
                attempt_count=F("attempt_count") - 1,
                lease_until=None,
                finished_at=now,
                last_error="The configuration was disabled before this was sent.",
            )
            return None
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_count,
            worker=worker or worker_name(),
            started_at=now,
        )
    return delivery, attempt


def _summary(response):
    if response.error:
        return response.error
    return f"The receiver answered HTTP {response.status}."


def _permanent(response):
    if response.refused:
        return True
    status = response.status
    return status is not None and 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS


def finish(delivery, attempt, response):
    """Record the attempt, then move the delivery on if the claim is still
    ours: delivered, pending again with a later time, or failed. Returns
    the delivery's new status."""
    now = timezone.now()
    ok = response.ok
    with transaction.atomic():
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=now,
            outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
            status_code=response.status,
            latency_ms=response.latency_ms,
            error="" if ok else _summary(response)[:500],
            response=response.excerpt[:500],
        )
        mine = Delivery.objects.filter(
            pk=delivery.pk, status=Status.DELIVERING, attempt_count=attempt.number
        )
        if ok:
            moved = mine.update(
                status=Status.DELIVERED, finished_at=now, lease_until=None, last_error=""
            )
            if moved and not delivery.is_test:
                NotificationConfiguration.objects.filter(
                    pk=delivery.configuration_id, failing_since__isnull=False
                ).update(failing_since=None)
            return Status.DELIVERED if moved else SUPERSEDED
        error = _summary(response)[:500]
        retry_at = now + timedelta(seconds=backoff(attempt.number))
        window = timedelta(seconds=settings.ATLAS_NOTIFY_RETRY_WINDOW_SECONDS)
        if not _permanent(response) and retry_at <= delivery.created_at + window:
            moved = mine.update(
                status=Status.PENDING, next_attempt_at=retry_at, lease_until=None, last_error=error
            )
            if moved:
                transaction.on_commit(
                    lambda: enqueue([delivery.pk], run_after=retry_at), robust=True
                )
            return Status.PENDING if moved else SUPERSEDED
        moved = mine.update(
            status=Status.FAILED, finished_at=now, lease_until=None, last_error=error
        )
        if moved and not delivery.is_test:
            record_failure(delivery.configuration_id, now)
        return Status.FAILED if moved else SUPERSEDED


def record_failure(configuration_id, now):
    """A delivery failed for good: extend the configuration's failing streak,
    and disable it once the streak is older than the setting allows."""
    NotificationConfiguration.objects.filter(
        pk=configuration_id, failing_since__isnull=True
    ).update(failing_since=now)
    cutoff = now - timedelta(seconds=settings.ATLAS_NOTIFY_DISABLE_AFTER_SECONDS)
    configuration = NotificationConfiguration.objects.get(pk=configuration_id)
    reason = (
        f"Disabled on {now:%Y-%m-%d %H:%M} UTC: every delivery failed since "
        f"{configuration.failing_since:%Y-%m-%d %H:%M} UTC."
    )
    disabled = NotificationConfiguration.objects.filter(
        pk=configuration_id, enabled=True, failing_since__lte=cutoff
    ).update(enabled=False, disabled_reason=reason, updated_at=now)
    if disabled:
        transaction.on_commit(lambda: tell_admins(configuration_id), robust=True)


def admin_emails(namespace):
    if namespace.kind == Namespace.Kind.USER:
        users = User.objects.filter(namespace=namespace)
    else:
        admins = Membership.objects.filter(
            organization__namespace=namespace, level=Level.ADMIN
        ).values("user_id")
        users = User.objects.filter(pk__in=admins)
    return list(users.filter(is_active=True).exclude(email="").values_list("email", flat=True))


def tell_admins(configuration_id):
    """Email the namespace's admins that a configuration was disabled."""
    from .payloads import configuration_path, public_url

    configuration = NotificationConfiguration.objects.select_related("environment__namespace").get(
        pk=configuration_id
    )
    environment = configuration.environment
    recipients = admin_emails(environment.namespace)
    if not recipients:
        return
    slug = f"{environment.namespace.name}/{environment.name}"
    body = (
        f"A {configuration.get_kind_display().lower()} notification of {slug} was disabled.\n\n"
        f"{configuration.disabled_reason}\n\n"
        f"Its deliveries and their errors: {public_url(configuration_path(configuration))}\n"
        "Fix the receiver, send a test, and enable it again there.\n"
    )
    try:
        send_mail(
            f"[Atlas] {slug}: a notification was disabled",
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    except Exception:
        logger.exception("Could not tell the admins of %s about a disabled notification", slug)


def recover(now=None):
    """Give deliveries whose worker died, or whose task was lost, a new task.

    Returns the ids handed on, for logs and tests.
    """
    now = now or timezone.now()
    recovered = []
    for pk, count, task_id in Delivery.objects.filter(
        status=Status.DELIVERING, lease_until__lt=now
    ).values_list("pk", "attempt_count", "task_id"):
        with transaction.atomic():
            if not Delivery.objects.filter(
                pk=pk, status=Status.DELIVERING, attempt_count=count, lease_until__lt=now
            ).update(
                status=Status.PENDING, lease_until=None, next_attempt_at=now, last_error=INTERRUPTED
            ):
                continue
            DeliveryAttempt.objects.filter(
                delivery_id=pk, number=count, finished_at__isnull=True
            ).update(finished_at=now, outcome=Outcome.INTERRUPTED, error=INTERRUPTED)
            _fail_task(task_id, now)
        enqueue([pk])
        recovered.append(pk)
    stale = now - lease()
    lost = Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=stale).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=stale)
    )
    for pk, task_id in lost.values_list("pk", "task_id")[:500]:
        if task_id and DBTaskResult.objects.filter(id=task_id, status="READY").exists():
            continue  # queued behind others: it will run
        enqueue([pk])
        recovered.append(pk)
    return recovered


def _fail_task(task_id, now):
    if task_id:
        DBTaskResult.objects.filter(id=task_id, status="RUNNING").update(
            status="FAILED", finished_at=now, exception_class_path=LOST_TASK, traceback=INTERRUPTED
        )
