"""Terraform state: every version ever stored, and each environment's head."""

import base64

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from environments.models import Environment


class Door(models.TextChoices):
    """The protocol a state version came through."""

    ATLAS = "atlas", "atlas backend"
    HTTP = "http", "http backend"
    TFE = "tfe", "TFE v2 (remote backend / cloud)"
    UI = "ui", "web UI"


class StateVersion(models.Model):
    """One stored state body of an environment, kept forever as history.

    The body itself is an encrypted blob (atlas.blobs); the row holds what
    the hot paths need without touching it: serial, lineage, digests, size.
    Serials only grow within an environment, so `(environment, serial)`
    names a version (the API's `/versions/<serial>`).
    """

    class Source(models.TextChoices):
        API = "api", "Written by a client"
        ROLLBACK = "rollback", "Rollback"

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="state_versions"
    )
    serial = models.BigIntegerField()
    lineage = models.CharField(max_length=128, blank=True)
    md5 = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    blob_name = models.CharField(max_length=255)
    blob_key_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token = models.ForeignKey(
        "accounts.Token", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The `?atlas_run_id=` text as the client sent it (any client may send
    # any text). The run that wrote a version is known for certain from its
    # run token (`token.scope_run`), which is what the pages link to.
    run_id = models.CharField(max_length=128, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    # The door a client wrote through, and the Terraform that wrote the body
    # (its `terraform_version`), so the history tells a 0.11 write from a 1.x one.
    door = models.CharField(max_length=8, choices=Door.choices, blank=True)
    terraform_version = models.CharField(max_length=32, blank=True)
    rolled_back_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    # For `manage.py rotate_keys`: the blob and the key it is encrypted with.
    blob_fields = [("blob_name", "blob_key_id")]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "serial"], name="state_serial_unique"),
        ]
        ordering = ["environment", "-serial"]

    def __str__(self):
        return f"{self.environment_id} serial {self.serial}"

    @property
    def md5_base64(self):
        """The `Content-MD5` header value: base64 of the digest bytes."""
        return base64.b64encode(bytes.fromhex(self.md5)).decode()


class EnvironmentState(models.Model):
    """An environment's head pointer, and the row that serialises its writers.

    Every change of the head happens in a transaction that first locks this
    row (`select_for_update`; on SQLite the IMMEDIATE transaction takes the
    database's write lock), so two writers never both decide against the
    same head. `max_serial` is the highest serial ever stored, kept even when
    the head is cleared, so serials only ever grow.
    """

    environment = models.OneToOneField(
        Environment, on_delete=models.CASCADE, related_name="state", primary_key=True
    )
    # The environment's namespace, copied here (environments never change
    # namespace) so the listing filters and counts readable states on this
    # table's own index, without a join per row.
    # Indexed by state_namespace_idx below (no separate foreign key index).
    namespace = models.ForeignKey(
        "accounts.Namespace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    head = models.ForeignKey(
        StateVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    max_serial = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The state listing: newest first, only environments with a head.
            models.Index(
                fields=["-updated_at", "-environment"],
                name="state_listing_idx",
                condition=Q(head__isnull=False),
            ),
            # `?username=` pages in order, and counts (`meta.total`) from the
            # index alone (head is in it, so it covers `head IS NOT NULL`).
            models.Index(
                fields=["namespace", "-updated_at", "-environment", "head"],
                name="state_namespace_idx",
                condition=Q(head__isnull=False),
            ),
        ]

    def __str__(self):
        return f"state of {self.environment_id}"


class StateUpload(models.Model):
    """A TFE state version announced before its body arrives.

    `POST /workspaces/:id/state-versions` without an inline `state` answers
    with two single-use upload URLs, one for the raw state and one for its
    JSON rendering, each carrying its own secret (only SHA-256 digests are
    kept). The client PUTs the bodies there without any Authorization
    header; the raw state is then written as `created_by` through
    `states.services.write_state`, under the same rules as every door, and
    `version` records what it became. Until then the state version reads as
    `pending`.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    serial = models.BigIntegerField()
    lineage = models.CharField(max_length=128, blank=True)
    md5 = models.CharField(max_length=32)
    secret_digest = models.CharField(max_length=64, unique=True, editable=False)
    json_secret_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token = models.ForeignKey(
        "accounts.Token", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)
    json_used_at = models.DateTimeField(null=True, blank=True)
    version = models.ForeignKey(
        StateVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="uploads"
    )
    error = models.TextField(blank=True)

    def __str__(self):
        return f"upload {self.pk} of {self.environment_id} serial {self.serial}"
