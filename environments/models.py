"""Environments: a namespace's named Terraform configuration and its state."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Namespace
from accounts.names import validate_name


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

    # The lock: held by a person (by hand, with a reason) or by a run.
    locked = models.BooleanField(default=False)
    lock_reason = models.CharField(max_length=500, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    locked_at = models.DateTimeField(null=True, blank=True)

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
