"""Runs: a plan and, once confirmed, an apply of one configuration version.

The statuses and the moves between them are in `runs.machine`; the queue
that gives each environment one active run at a time is `runs.queue`; the
worker that executes Terraform is `runs.executor`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    PLANNING = "planning", "Planning"
    PLANNED = "planned", "Planned"
    CONFIRMED = "confirmed", "Confirmed"
    APPLYING = "applying", "Applying"
    APPLIED = "applied", "Applied"
    PLANNED_AND_FINISHED = "planned_and_finished", "No changes"
    DISCARDED = "discarded", "Discarded"
    CANCELED = "canceled", "Canceled"
    ERRORED = "errored", "Errored"


class Phase(models.TextChoices):
    PLAN = "plan", "Plan"
    APPLY = "apply", "Apply"


class Source(models.TextChoices):
    """Where a run was queued."""

    PUSH = "push", "terraform push"
    TFE_CLI = "tfe-cli", "terraform plan/apply (TFE API)"
    UI = "ui", "Web UI"
    API = "api", "API"


class Run(models.Model):
    """One run of an environment.

    `<status>_at` records when the run entered each status. `holds_lock` is
    true while this run is the environment's active run (at most one per
    environment, enforced by a partial unique index); the environment's own
    lock fields show it to people. `worker_id` and `heartbeat_at` say which
    worker executes it and that the worker is alive.
    """

    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="runs"
    )
    configuration_version = models.ForeignKey(
        "environments.ConfigurationVersion", on_delete=models.CASCADE, related_name="runs"
    )
    destroy = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    # A plan only (`terraform plan` through the TFE API): never confirmed,
    # never applied, never holding the environment's lock.
    speculative = models.BooleanField(default=False)
    # The run's own auto-apply (`terraform apply -auto-approve` of `cloud {}`);
    # None: the environment's.
    auto_apply = models.BooleanField(null=True, blank=True)
    # The Terraform version the run executes with (runs.versions).
    terraform_version = models.CharField(max_length=32, blank=True, default="")
    # Variables sent with the run (`terraform apply -var` of `cloud {}`), merged
    # over the environment's: sealed JSON `[{"key", "value", "hcl"}]`.
    variables_sealed = models.TextField(blank=True, default="", editable=False)
    variables_key_id = models.CharField(max_length=32, blank=True, default="", editable=False)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    auto_applied = models.BooleanField(default=False)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.CharField(max_length=500, blank=True)
    # The first error Terraform printed in the phase that failed (masked, as
    # in the log): pages say why a run errored without reading its log.
    error_text = models.TextField(blank=True, default="")

    created_at = models.DateTimeField(default=timezone.now)
    pending_at = models.DateTimeField(default=timezone.now)
    planning_at = models.DateTimeField(null=True, blank=True)
    planned_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    applying_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    planned_and_finished_at = models.DateTimeField(null=True, blank=True)
    discarded_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    errored_at = models.DateTimeField(null=True, blank=True)

    has_changes = models.BooleanField(null=True, blank=True)
    resource_additions = models.IntegerField(null=True, blank=True)
    resource_changes = models.IntegerField(null=True, blank=True)
    resource_destructions = models.IntegerField(null=True, blank=True)

    plan_blob = models.CharField(max_length=255, blank=True, default="", editable=False)
    plan_key_id = models.CharField(max_length=32, blank=True, default="", editable=False)
    plan_size = models.BigIntegerField(null=True, blank=True)

    holds_lock = models.BooleanField(default=False)
    task_id = models.CharField(max_length=64, blank=True, default="")
    worker_id = models.CharField(max_length=64, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # When the plan's log was read to its end through its log URL (the CLI
    # following the run): see runs.machine.CLI_AUTO_APPLY_GRACE.
    plan_log_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Tokens issued to Terraform for this run; all revoked when it ends.
    tokens = models.ManyToManyField("accounts.Token", blank=True, related_name="+")

    blob_fields = [("plan_blob", "plan_key_id")]

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(holds_lock=True),
                name="run_one_lock_holder_per_environment",
            ),
        ]
        indexes = [
            models.Index(fields=["environment", "status", "id"], name="run_env_status_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat_idx"),
        ]

    def __str__(self):
        return f"run {self.pk} ({self.status})"

    @property
    def is_finished(self):
        from .machine import TERMINAL

        return self.status in TERMINAL

    @property
    def is_running(self):
        return self.status in (Status.PLANNING, Status.APPLYING)

    @property
    def error_headline(self):
        """Why the run errored, in a few lines: Terraform's first error, or
        the run's own message when Terraform printed none."""
        from .summaries import headline

        if self.status != Status.ERRORED:
            return ""
        return headline(self.error_text) or self.message

    @property
    def applies(self):
        """Whether the run has an apply phase (it was confirmed)."""
        return self.confirmed_at is not None

    def status_timestamps(self):
        """`{status: when}` for every status the run has been in, in order."""
        return {
            status: getattr(self, f"{status}_at")
            for status in Status.values
            if getattr(self, f"{status}_at") is not None
        }


class RunLogChunk(models.Model):
    """A piece of a run's plan or apply log, stored as it arrives.

    `offset` is the byte offset (UTF-8) of the chunk in its log and `size` its
    length in bytes, so `?offset=` finds what follows a byte with one indexed
    query. Secrets are masked before a chunk is stored.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_chunks")
    phase = models.CharField(max_length=8, choices=Phase.choices)
    offset = models.BigIntegerField()
    size = models.IntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "phase", "offset"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "phase", "offset"], name="run_log_chunk_offset_unique"
            ),
        ]

    def __str__(self):
        return f"{self.run_id} {self.phase} @{self.offset}"


# The notification models belong to this app; importing them here registers them.
from .notifications.models import (  # noqa: E402
    Delivery,
    DeliveryAttempt,
    NotificationConfiguration,
)

__all__ = [
    "Delivery",
    "DeliveryAttempt",
    "NotificationConfiguration",
    "Phase",
    "Run",
    "RunLogChunk",
    "Source",
    "Status",
]
