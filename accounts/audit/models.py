"""The audit trail's one table."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """One security-relevant action, recorded once by accounts.audit.record.

    The actor's name, the object's name and the namespace's name are kept as
    they were, so an event still reads right after any of them is renamed or
    deleted. `before` and `after` hold what changed where that is meaningful,
    never a secret or a variable's value.
    """

    created_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    token_id = models.CharField(max_length=32, blank=True)
    address = models.CharField(max_length=64, blank=True)
    namespace = models.ForeignKey(
        "accounts.Namespace",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    namespace_name = models.CharField(max_length=64, blank=True)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_name = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["namespace", "-created_at", "-id"], name="audit_namespace_idx"),
            models.Index(fields=["created_at"], name="audit_created_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action}"
