"""Finding the environment a request names, with the privilege check.

The targets of the views' access rules (`accounts.access.rule`):
`ENVIRONMENT` for `:username/:name` URLs, `WORKSPACE` for TFE workspace
ids. Both answer 404 for what the caller may not see and 403 for a level
too low; a view receives the environment resolved once.
"""

from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.functions import Lower
from django.http import Http404

from accounts.access import Target, find_namespace, refuse_below, request_token, require_level
from accounts.models import Level, Namespace, Organization, User
from accounts.privileges import SQL_CONSTANTS, annotated_level, at_least, level_annotations
from atlas.api.jsonapi import id_number
from atlas.compiled import compile_values, converted, fetch_one, loaded, parameter_roles, parameters

from .models import Environment
from .services import new_environment


def find_environment(username, name):
    """The environment `username/name` (any case), or None; no access check."""
    return (
        Environment.objects.select_related("namespace")
        .filter(namespace__name__iexact=username, name__iexact=name)
        .first()
    )


# The environment, its namespace and that namespace's organization (or
# None): every concrete column of each, then the caller's levels.
_LEVELLED_MODELS = (
    (Environment, ""),
    (Namespace, "namespace__"),
    (Organization, "namespace__organization__"),
)
_LEVELLED_ATTNAMES = tuple(
    (model, tuple(field.attname for field in model._meta.concrete_fields))
    for model, _prefix in _LEVELLED_MODELS
)
_LEVELS = ("member_level", "grant_level")
_STAND_INS = {"user": -730_101, "username": "\x00username", "name": "\x00name"}
_compiled = {}


def _levelled_queryset(user, username, name):
    """`username/name` with `level_annotations(user)`, names compared through
    LOWER() (which the case-insensitive unique indexes serve)."""
    columns = [
        f"{prefix}{field.attname}"
        for model, prefix in _LEVELLED_MODELS
        for field in model._meta.concrete_fields
    ]
    return (
        Environment.objects.annotate(**level_annotations(user))
        .alias(namespace_lower=Lower("namespace__name"), name_lower=Lower("name"))
        .filter(namespace_lower=username.lower(), name_lower=name.lower())
        .order_by("pk")
        .values_list(*columns, *_LEVELS)[:1]
    )


def _compiled_levelled(connection):
    """(sql, parameter roles, converters) of `_levelled_queryset`, compiled once
    per process and database, or None if its SQL depends on more than the
    user's id and the two names.

    Building and compiling it costs the ORM about 2 ms (the level's
    subqueries), two fifths of a small state PUT; running it, a fraction of
    a millisecond."""
    key = (connection.alias, connection.vendor)
    if key not in _compiled:
        stand_in = User(pk=_STAND_INS["user"], is_active=True)
        queryset = _levelled_queryset(stand_in, _STAND_INS["username"], _STAND_INS["name"])
        sql, params, converters = compile_values(queryset, connection)
        roles = parameter_roles(params, _STAND_INS, SQL_CONSTANTS)
        _compiled[key] = None if roles is None else (sql, roles, converters)
    return _compiled[key]


def _levelled_instances(row, alias):
    """The environment with its namespace and organization (as select_related
    fills them) and the annotations `annotated_level` reads, from one row."""
    found, start = [], 0
    for model, attnames in _LEVELLED_ATTNAMES:
        values = row[start : start + len(attnames)]
        start += len(attnames)
        found.append(loaded(model, alias, attnames, values) if values[0] is not None else None)
    environment, namespace, organization = found
    environment.member_level, environment.grant_level = row[start:]
    Environment.namespace.field.set_cached_value(environment, namespace)
    Namespace.organization.related.set_cached_value(namespace, organization)
    if organization is not None:
        Organization.namespace.field.set_cached_value(organization, namespace)
    return environment


def environment_with_level(user, username, name):
    """The environment `username/name` (any case), with its namespace, the
    namespace's organization and `user`'s level annotations
    (`accounts.privileges.level_annotations`), or None. One query."""
    if not (user.is_authenticated and user.is_active and username.isascii() and name.isascii()):
        return None  # no level to read; and only ASCII names, where LOWER() is iexact
    connection = connections[DEFAULT_DB_ALIAS]  # one thread-local lookup
    compiled = _compiled_levelled(connection)
    if compiled is None:
        row = next(iter(_levelled_queryset(user, username, name)), None)
    else:
        sql, roles, converters = compiled
        values = {"user": user.pk, "username": username.lower(), "name": name.lower()}
        row = fetch_one(sql, parameters(roles, values), connection)
        row = row and converted(row, converters, connection)
    return None if row is None else _levelled_instances(row, connection.alias)


def _find_for(request, username, name, needed, create=False, hidden_as_new=False):
    """(environment, level); with `create`, a missing environment comes back
    unsaved (no pk) when the caller may write the namespace (see `Need` for
    `hidden_as_new`).

    An existing environment the caller may use costs one query: itself, its
    namespace and the caller's level (`accounts.privileges.level_annotations`).
    Anything else (missing, hidden, a level too low) takes the steps below,
    which decide each refusal."""
    environment = environment_with_level(request.user, username, name)
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
    return environment_and_level(request, needed, pk=number)


def environment_and_level(request, needed, **lookup):
    """(environment, level) of the environment that `lookup` (filter
    arguments) finds, read with its namespace and lock holder; 404 when
    there is none or no access, 403 when the level is too low.

    At most two queries: the level is looked up on its own. Reading it in
    the same query through the ORM (`level_annotations`) saves one query but
    costs ~2 ms building its subqueries, more than the query; only compiled
    once per process, as `environment_with_level` is for `_find_for`, is it
    cheaper."""
    environment = (
        Environment.objects.select_related("namespace", "locked_by").filter(**lookup).first()
    )
    if environment is None:
        raise Http404
    return environment, require_level(request, environment.namespace, needed, environment)


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
