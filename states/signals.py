"""Removing a version's blob once the row that names it is gone for good."""

from contextlib import suppress
from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from atlas.blobs import delete_blob

from .models import StateVersion


def _delete_quietly(name):
    with suppress(Exception):
        delete_blob(name)


@receiver(post_delete, sender=StateVersion, dispatch_uid="states.delete_version_blob")
def delete_version_blob(sender, instance, **kwargs):
    """Versions go with their environment (cascade); their blobs go after commit."""
    if instance.blob_name:
        transaction.on_commit(partial(_delete_quietly, instance.blob_name))
