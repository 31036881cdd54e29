"""Deleting a user or an organization frees its name.

The namespace row is what keeps names unique; it outlives its owner only by
mistake, so it goes (with the environments in it) when the owner goes.
"""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Namespace, Organization, User


@receiver(post_delete, sender=User)
@receiver(post_delete, sender=Organization)
def delete_namespace(sender, instance, **kwargs):
    if instance.namespace_id:
        Namespace.objects.filter(pk=instance.namespace_id).delete()
