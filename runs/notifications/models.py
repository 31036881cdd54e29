"""Notification configurations of an environment and their deliveries.

A configuration names a channel (a signed webhook, a Slack incoming webhook
or email) and the run events it wants. When a run enters one of those
statuses, `runs.machine.transition()` writes one `Delivery` per matching
configuration in the same transaction (`outbox.record_event`): the unique
(configuration, run, event) makes it the event's idempotency key, so an
event is delivered once however often tasks are retried or workers die.
Every try to hand a delivery over is a `DeliveryAttempt`.

URLs and webhook secrets are sealed in the database (`sealing.py`), like
sensitive variables: a copy of the database alone reveals neither.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Event(models.TextChoices):
    """The run statuses people are told about, by their legacy names."""

    PLANNED = "planned", "Needs confirmation"
    CONFIRMED = "confirmed", "Confirmed"
    DISCARDED = "discarded", "Discarded"
    APPLYING = "applying", "Applying"
    APPLIED = "applied", "Applied"
    ERRORED = "errored", "Errored"


# What a test delivery reports as its event.
TEST_EVENT = "test"


class Kind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    EMAIL = "email", "Email"


class NotificationConfiguration(models.Model):
    """Where to tell people about an environment's runs, and about what.

    `url` (webhook, Slack) and `secret` (webhook signatures) are sealed;
    `recipients` (email) are usernames or addresses. `failing_since` is the
    first failed delivery of the current streak; a configuration failing for
    longer than ATLAS_NOTIFY_DISABLE_AFTER_SECONDS is disabled with a reason.
    """

    environment = models.ForeignKey(
        "environments.Environment",
        on_delete=models.CASCADE,
        related_name="notification_configurations",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url_sealed = models.TextField(blank=True, editable=False)
    url_key_id = models.CharField(max_length=32, blank=True, editable=False)
    recipients = models.JSONField(default=list, blank=True)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    secret_sealed = models.TextField(blank=True, editable=False)
    secret_key_id = models.CharField(max_length=32, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["environment", "enabled"], name="notify_env_enabled_idx")]

    def __str__(self):
        return f"{self.kind} notification {self.pk}"

    def wants(self, event):
        return event in self.events

    @property
    def url(self):
        """The clear URL (decrypted on each access); "" for email."""
        from .sealing import open_url

        return open_url(self)

    @property
    def secret(self):
        from .sealing import open_secret

        return open_secret(self)


class Delivery(models.Model):
    """One event for one configuration: the unit that is delivered once.

    Its id is the `X-Atlas-Delivery` header and stays the same across
    attempts, so a receiver that saw it already can ignore a repeat. Status:
    pending (waiting for its next attempt at `next_attempt_at`), delivering
    (an attempt holds it until `lease_until`), then delivered, failed (every
    attempt within ATLAS_NOTIFY_RETRY_WINDOW_SECONDS failed, or the failure
    cannot get better by retrying) or skipped (the configuration was disabled
    before it went out).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERING = "delivering", "Delivering"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    configuration = models.ForeignKey(
        NotificationConfiguration, on_delete=models.CASCADE, related_name="deliveries"
    )
    run = models.ForeignKey(
        "runs.Run", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    event = models.CharField(max_length=16)
    message = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["configuration", "run", "event"],
                condition=Q(run__isnull=False),
                name="delivery_once_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["configuration", "-created_at"], name="delivery_config_idx"),
        ]

    def __str__(self):
        return f"{self.event} → {self.configuration_id} ({self.status})"

    @property
    def is_test(self):
        return self.event == TEST_EVENT


class DeliveryAttempt(models.Model):
    """One try at handing a delivery over, as it went.

    Written when the try starts, so a worker that dies in the middle leaves
    an attempt without `finished_at`, which recovery marks interrupted.
    """

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="delivery_attempt_unique"),
        ]

    def __str__(self):
        return f"attempt {self.number} of {self.delivery_id}"
