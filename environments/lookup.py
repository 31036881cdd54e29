"""Finding the environment a request names, with the privilege check.

The targets of the views' access rules (`accounts.access.rule`):
`ENVIRONMENT` for `:username/:name` URLs, `WORKSPACE` for TFE workspace
ids. Both answer 404 for what the caller may not see and 403 for a level
too low; a view receives the environment resolved once.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.access import Target, find_namespace, refuse_below, request_token, require_level
from accounts.models import Level
from accounts.privileges import annotated_level, at_least, level_annotations
from atlas.api.jsonapi import id_number

from .models import Environment
from .services import new_environment


def find_environment(username, name):
    """The environment `username/name` (any case), or None; no access check."""
    return (
        Environment.objects.select_related("namespace")
        .filter(namespace__name__iexact=username, name__iexact=name)
        .first()
    )


def _find_for(request, username, name, needed, create=False, hidden_as_new=False):
    """(environment, level); with `create`, a missing environment comes back
    unsaved (no pk) when the caller may write the namespace (see `Need` for
    `hidden_as_new`).

    An existing environment the caller may use costs one query: itself, its
    namespace and the caller's level (`accounts.privileges.level_annotations`).
    Anything else (missing, hidden, a level too low) takes the steps below,
    which decide each refusal."""
    environment = (
        Environment.objects.select_related("namespace__organization")
        .annotate(**level_annotations(request.user))
        .filter(namespace__name__iexact=username, name__iexact=name)
        .first()
    )
    if environment is not None:
        level = annotated_level(request.user, environment, request_token(request))
        if level is not None and at_least(level, needed):
            return environment, refuse_below(request, environment.namespace, level, needed)
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
    except Http404:
        if hidden_as_new and environment is not None:
            require_level(request, namespace, needed)
        raise
    except PermissionDenied:
        if environment is None and not create:
            # Nothing by that name: the same 404 for everyone, a member of
            # the organization without a default level included.
            raise Http404 from None
        raise
    if environment is None:
        if not (create and at_least(level, Level.WRITE)):
            raise Http404
        environment = Environment(namespace=namespace, name=name)
    return environment, level


def saved(environment, user):
    """`environment` as resolved for a method that creates: the stored one,
    created now (by `user`) if the URL named one that did not exist yet."""
    if environment.pk is not None:
        return environment
    return create_environment(environment.namespace, environment.name, user)


def _resolve_environment(request, url_kwargs, need):
    return _find_for(
        request,
        url_kwargs["username"],
        url_kwargs["name"],
        need.level,
        need.creates,
        need.hidden_as_new,
    )


def _resolve_workspace(request, url_kwargs, need):
    return workspace_for(request, url_kwargs["workspace_id"], need.level)


# The environment `:username/:name` of the URL (Level.READ, WRITE or ADMIN;
# with Need(..., creates=True) it may come back unsaved: see `saved`).
ENVIRONMENT = Target("environment", _resolve_environment, ("username", "name"))
# The environment a TFE workspace id (`ws-<id>`) of the URL names.
WORKSPACE = Target("environment", _resolve_workspace, ("workspace_id",))


WORKSPACE_PREFIX = "ws-"


def workspace_for(request, workspace_id, needed=Level.READ):
    """(environment, level) of a TFE workspace id (`ws-<id>`), with the same
    404/403 as `ENVIRONMENT`."""
    number = id_number(workspace_id, WORKSPACE_PREFIX)
    if number is None:
        raise Http404
    return environment_with_level(request, needed, pk=number)


def environment_with_level(request, needed, **lookup):
    """(environment, level) of the environment that `lookup` (filter
    arguments) finds, in one query with its namespace, its lock holder and
    the caller's level; 404 when there is none or no access, 403 when the
    level is too low."""
    environment = (
        Environment.objects.select_related("namespace", "locked_by")
        .annotate(**level_annotations(request.user))
        .filter(**lookup)
        .first()
    )
    if environment is None:
        raise Http404
    level = annotated_level(request.user, environment, request_token(request))
    return environment, refuse_below(request, environment.namespace, level, needed)


def create_environment(namespace, name, user=None, auto_apply=False):
    """Create an environment a URL names into being, or return the one a
    concurrent request just made (the rule is `services.new_environment`)."""
    return new_environment(namespace, name, user, auto_apply, existing_ok=True)


def page_context(environment, level, **extra):
    """What every environment page's template needs: the environment, the
    caller's level and what it lets them do (the header's tabs and buttons)."""
    return {
        "environment": environment,
        "level": level,
        "can_write": at_least(level, Level.WRITE),
        "can_admin": at_least(level, Level.ADMIN),
        **extra,
    }
