"""Deleting a user or an organization frees its name; a new organization gets
its owners team; signing in opens a session.

The namespace row is what keeps names unique; it outlives its owner only by
mistake, so it goes (with the environments in it) when the owner goes.
"""

import time

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Namespace, Organization, Team, User
from .sessions import OPENED_KEY, SEEN_KEY


@receiver(post_delete, sender=User)
@receiver(post_delete, sender=Organization)
def delete_namespace(sender, instance, **kwargs):
    if instance.namespace_id:
        Namespace.objects.filter(pk=instance.namespace_id).delete()


@receiver(user_logged_in)
def start_session(sender, request, user, **kwargs):
    """Note when this session was opened (the account page lists sessions)."""
    session = getattr(request, "session", None)
    if session is not None:
        now = int(time.time())
        session[OPENED_KEY] = now
        session[SEEN_KEY] = now


@receiver(post_save, sender=Organization)
def create_owners_team(sender, instance, created, raw=False, **kwargs):
    """Every organization has its owners team, however it was created."""
    if created and not raw:
        Team.objects.get_or_create(
            organization=instance, owners=True, defaults={"name": Team.OWNERS}
        )
