"""Environments, their variables and their configuration versions.

Variable values and the variables sent with each configuration version are
sealed (encrypted) in the database, see `environments.crypto`; archives are
encrypted blobs, see `atlas.blobs`.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Namespace
from accounts.names import validate_name


class LockKind(models.TextChoices):
    """Who holds an environment's lock, and so how a write proves it is theirs."""

    MANUAL = "manual", "locked by hand"
    RUN = "run", "a run"
    HTTP = "http", "Terraform's http backend"
    TFE = "tfe", "a TFE workspace lock"


class ExecutionMode(models.TextChoices):
    """Where `terraform plan` and `apply` of the TFE door run."""

    REMOTE = "remote", "Remote: runs on this server's workers"
    LOCAL = "local", "Local: Terraform runs where it is started; state only here"


def default_execution_mode(namespace):
    """The execution mode of a new environment of `namespace`: its
    organization's setting, remote for a person's own namespace."""
    organization = None
    if namespace.kind == "organization":
        organization = getattr(namespace, "organization", None)
    mode = getattr(organization, "default_execution_mode", "")
    return mode if mode in ExecutionMode.values else ExecutionMode.REMOTE


class Environment(models.Model):
    """`<namespace>/<name>`: variables, configuration versions, runs and state."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=64, validators=[validate_name])
    auto_apply = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    # The one lock (see environments.locking): held by a person by hand, by
    # the active run, or by a Terraform client through the http backend or a
    # TFE workspace lock. A lock with no `locked_by` is held by the system (a
    # run); only a force-unlock releases it by hand.
    locked = models.BooleanField(default=False)
    lock_reason = models.CharField(max_length=500, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    locked_at = models.DateTimeField(null=True, blank=True)
    lock_kind = models.CharField(max_length=8, choices=LockKind.choices, blank=True)
    # The id a client must send with its writes (`?ID=` of the http backend).
    lock_id = models.CharField(max_length=255, blank=True)
    lock_operation = models.CharField(max_length=100, blank=True)
    # What the client says about itself: the http backend's LockInfo as sent
    # (answered back on a conflict), or the TFE client's name and version.
    lock_info = models.JSONField(null=True, blank=True)
    lock_client = models.CharField(max_length=200, blank=True)

    # What `terraform-version` a TFE client last set (`latest` when none).
    terraform_version = models.CharField(max_length=32, blank=True)
    execution_mode = models.CharField(
        max_length=8, choices=ExecutionMode.choices, default=ExecutionMode.REMOTE
    )

    class Meta:
        constraints = [
            models.UniqueConstraint("namespace", Lower("name"), name="environment_name_ci_unique"),
        ]
        ordering = ["namespace__name", "name"]

    def __str__(self):
        return self.slug

    @property
    def slug(self):
        return f"{self.namespace.name}/{self.name}"

    @property
    def lock_holder(self):
        """Who holds the lock, for people to read: a username, "a run", or None."""
        if not self.locked:
            return None
        return self.locked_by.username if self.locked_by_id else "a run"

    @property
    def lock_run_id(self):
        """The id of the run that holds the lock, or None."""
        prefix = "run-"
        if not (self.locked and self.lock_kind == LockKind.RUN and self.lock_id.startswith(prefix)):
            return None
        number = self.lock_id[len(prefix) :]
        return int(number) if number.isdigit() else None

    @property
    def lock_description(self):
        """The holder with the door and client it holds the lock through."""
        from .locking import describe

        return describe(self)


class Variable(models.Model):
    """One variable of an environment: a Terraform variable or a process
    environment variable of its runs.

    The value is always sealed (`environments.crypto`), sensitive or not; a
    sensitive value is never shown or sent back once stored (the API sends a
    redaction marker in its place).
    """

    class Category(models.TextChoices):
        TERRAFORM = "terraform", "Terraform variable"
        ENV = "env", "Environment variable"

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="variables")
    category = models.CharField(max_length=16, choices=Category.choices)
    key = models.CharField(max_length=256)
    value_sealed = models.TextField(editable=False)
    value_key_id = models.CharField(max_length=32, editable=False)
    hcl = models.BooleanField(default=False)
    sensitive = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "category", "key"], name="variable_key_unique"
            ),
        ]
        ordering = ["category", "key"]

    def __str__(self):
        return f"{self.key} ({self.category})"

    @property
    def value(self):
        """The clear value (decrypted on each access)."""
        from .crypto import open_variable

        return open_variable(self)


class ConfigurationVersion(models.Model):
    """One `terraform push`: the archive of a configuration, numbered per
    environment from 1, with the metadata and variables sent along.

    Its life: created `pending` with a one-time upload secret (only its
    SHA-256 is kept) that expires; the archive upload makes it `finished`, or
    `errored` with the reason when the archive is refused.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FINISHED = "finished", "Finished"
        ERRORED = "errored", "Errored"

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="configuration_versions"
    )
    number = models.PositiveIntegerField()
    metadata = models.JSONField(default=dict, blank=True)
    # The Terraform variables sent with this version, with sensitive values
    # resolved, as sealed JSON `[{"key", "value", "hcl"}]`.
    tf_vars_sealed = models.TextField(blank=True, editable=False)
    tf_vars_key_id = models.CharField(max_length=32, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    # A push queues a plan when its archive arrives; a TFE client creates
    # its run itself (`auto-queue-runs: false`).
    auto_queue_runs = models.BooleanField(default=True)
    # Sent for `terraform plan` through the TFE API (it never applies).
    speculative = models.BooleanField(default=False)

    upload_secret_digest = models.CharField(max_length=64, unique=True, editable=False)
    upload_expires_at = models.DateTimeField()
    upload_used_at = models.DateTimeField(null=True, blank=True)

    archive_name = models.CharField(max_length=255, blank=True, default="", editable=False)
    archive_key_id = models.CharField(max_length=32, blank=True, default="", editable=False)
    archive_size = models.BigIntegerField(null=True, blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True, default="")

    blob_fields = [("archive_name", "archive_key_id")]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "number"], name="configuration_version_number_unique"
            ),
        ]
        ordering = ["environment", "-number"]

    def __str__(self):
        return f"{self.environment_id} v{self.number}"

    def upload_expired(self, now=None):
        return self.upload_expires_at <= (now or timezone.now())

    @property
    def current_status(self):
        """The status as clients should see it: a pending version whose upload
        URL expired unused is errored, even before anyone records that."""
        if self.status == self.Status.PENDING and self.upload_expired():
            return self.Status.ERRORED
        return self.status

    @property
    def current_error(self):
        if self.status == self.Status.PENDING and self.upload_expired():
            return EXPIRED_UPLOAD
        return self.error

    @property
    def has_archive(self):
        return self.status == self.Status.FINISHED and bool(self.archive_name)

    def tf_vars(self):
        """The Terraform variables sent with this version, values in clear."""
        from .crypto import open_version_tf_vars

        return open_version_tf_vars(self)


EXPIRED_UPLOAD = "The upload URL expired before an archive was uploaded."
