"""Finding the environment a request names, with the privilege check.

Every app that serves `:username/:name` URLs calls `environment_for`; it
answers 404 for what the caller may not see and 403 for a level too low.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from accounts.access import find_namespace, require_level
from accounts.models import Level
from accounts.names import validate_name
from accounts.privileges import at_least

from .models import Environment


def find_environment(username, name):
    """The environment `username/name` (any case), or None; no access check."""
    return (
        Environment.objects.select_related("namespace")
        .filter(namespace__name__iexact=username, name__iexact=name)
        .first()
    )


def environment_for(request, username, name, needed=Level.READ, create=False):
    """(environment, level) named by the URL.

    With `create=True`, an environment that does not exist yet is created when
    the caller has write access to the namespace (state and push do this).
    """
    namespace = find_namespace(username)
    if namespace is None:
        raise Http404
    environment = (
        Environment.objects.select_related("namespace")
        .filter(namespace=namespace, name__iexact=name)
        .first()
    )
    try:
        level = require_level(request, namespace, needed, environment)
    except PermissionDenied:
        if environment is None and not create:
            # Nothing by that name: the same 404 for everyone, a member of
            # the organization without a default level included.
            raise Http404 from None
        raise
    if environment is None:
        if not (create and at_least(level, Level.WRITE)):
            raise Http404
        environment = create_environment(namespace, name, request.user)
    return environment, level


WORKSPACE_PREFIX = "ws-"


def workspace_for(request, workspace_id, needed=Level.READ):
    """(environment, level) of a TFE workspace id (`ws-<id>`), with the same
    404/403 as `environment_for`."""
    number = workspace_id.removeprefix(WORKSPACE_PREFIX)
    if not workspace_id.startswith(WORKSPACE_PREFIX) or not number.isdigit():
        raise Http404
    environment = (
        Environment.objects.select_related("namespace", "locked_by").filter(pk=number).first()
    )
    if environment is None:
        raise Http404
    return environment, require_level(request, environment.namespace, needed, environment)


def create_environment(namespace, name, user=None, auto_apply=False):
    """Create an environment, or return the one a concurrent request just made."""
    try:
        validate_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    try:
        with transaction.atomic():
            return Environment.objects.create(
                namespace=namespace, name=name, created_by=user, auto_apply=auto_apply
            )
    except IntegrityError:
        existing = (
            Environment.objects.select_related("namespace")
            .filter(namespace=namespace, name__iexact=name)
            .first()
        )
        if existing is None:
            raise
        return existing
