"""The audit trail: every security-relevant action, recorded once, here.

The domain functions that every door calls (API, web, other API versions)
call `record()`; it reads who acts, with which token and from which address
from the request being served (set by accounts.middleware), so doors pass
nothing. Work done outside a request (the worker, management commands) is
recorded with no actor. Events are written in the caller's transaction:
an action that rolls back leaves no event.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.context import client_address, current_request

from .models import AuditEvent


def _actor(request):
    user = getattr(request, "user", None) if request is not None else None
    if user is None or not user.is_authenticated:
        return None
    return user


def _token_id(request):
    from accounts.models import Token

    auth = getattr(request, "auth", None) if request is not None else None
    return auth.public_id if isinstance(auth, Token) else ""


def record(action, *, obj=None, namespace=None, name="", before=None, after=None, actor=None):
    """Record `action` (e.g. "team.member_add") on `obj` in `namespace`.

    `name` is how the object reads to a person (defaults to str(obj));
    `before`/`after` are small JSON-able dicts of what changed. `actor`
    overrides the request's user (sign-in, where the request has none yet).
    """
    request = current_request()
    actor = actor if actor is not None else _actor(request)
    if namespace is None and obj is not None:
        namespace = _namespace_of(obj)
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=getattr(actor, "username", "") or "",
        token_id=_token_id(request),
        address=client_address(request),
        namespace=namespace,
        namespace_name=namespace.name if namespace is not None else "",
        object_type=_object_type(obj),
        object_id=str(getattr(obj, "public_id", None) or getattr(obj, "pk", "") or "")[:64],
        object_name=(name or (str(obj) if obj is not None else ""))[:200],
        before=before,
        after=after,
    )


def _object_type(obj):
    if obj is None:
        return ""
    return obj._meta.model_name if hasattr(obj, "_meta") else type(obj).__name__.lower()


def _namespace_of(obj):
    """The namespace an object lives in, for the organization's audit list."""
    from accounts.models import Namespace, Organization

    if isinstance(obj, Namespace):
        return obj
    if isinstance(obj, Organization):
        return obj.namespace
    for path in ("namespace", "organization", "environment", "team"):
        owner = getattr(obj, path, None)
        if owner is not None and owner is not obj:
            return _namespace_of(owner)
    return None


def events_for(namespace):
    """The namespace's events, newest first."""
    return AuditEvent.objects.filter(namespace=namespace).order_by("-created_at", "-id")


def filtered(events, *, action="", actor="", since=None):
    """Narrow `events`: an exact action or a family ("team" matches "team.*"),
    an actor's name (any case), and events at or after `since`."""
    if action:
        if "." in action:
            events = events.filter(action=action)
        else:
            events = events.filter(action__startswith=f"{action}.")
    if actor:
        events = events.filter(actor_name__iexact=actor)
    if since is not None:
        events = events.filter(created_at__gte=since)
    return events


def prune(now=None):
    """Delete events older than ATLAS_AUDIT_RETENTION_DAYS (0 keeps them all)."""
    days = settings.ATLAS_AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return AuditEvent.objects.filter(created_at__lt=cutoff).delete()[0]
