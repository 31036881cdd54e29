"""What a user, through a token or a session, may do in a namespace.

This is the one place that answers the question; every app calls it. Levels
are ordered read < write < admin. A user is admin of their own namespace and
holds their membership's level in an organization. A read-only token caps
the level at read. A run's own token is not a person's: what it may do is
an allow-list, `run_token_allows`, asked at every door of the API.
"""

from django.db.models import Q

from .models import Level, Membership, Namespace, Token

RANK = {None: 0, Level.READ: 1, Level.WRITE: 2, Level.ADMIN: 3}


def at_least(level, needed):
    """True when `level` (possibly None) grants `needed`."""
    return RANK[level] >= RANK[needed]


def _cap(level, ceiling):
    return level if RANK[level] <= RANK[ceiling] else ceiling


def namespace_level(user, namespace, token=None, environment=None):
    """The level `user` (acting through `token`, if any) holds in `namespace`.

    None means no access at all: the caller must answer 404. At most one
    query, and none for the user's own namespace. Pass `environment` when the
    request is about one environment: a run token writes its own one.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if namespace.kind == Namespace.Kind.USER:
        level = Level.ADMIN if namespace.pk == user.namespace_id else None
    else:
        level = (
            Membership.objects.filter(user=user, organization__namespace=namespace)
            .values_list("level", flat=True)
            .first()
        )
    if token is not None:
        if token.read_only:
            level = _cap(level, Level.READ)
        if is_run_token(token):
            # Past `run_token_allows`, a run token reads what the person who
            # queued the run may read and writes only its own environment.
            own = environment is not None and token.scope_environment_id == environment.pk
            level = _cap(level, Level.WRITE if own else Level.READ)
    return level


def is_run_token(token):
    return token is not None and token.kind == Token.Kind.RUN


# What a run's own token may do: every request it makes is one of these, or
# it is refused as a stranger's.
READ_STATE = "read-state"
WRITE_STATE = "write-state"
READ_RUN = "read-run"


def _queuer_level(token, namespace):
    """The level the person who queued the run holds now (not when they
    queued it): one query, so removing a member stops their runs at once."""
    return namespace_level(token.user, namespace)


def run_token_allows(token, action, *, environment=None, run=None):
    """Whether the run token `token` may do `action` now: its whole allow-list.

    - READ_STATE of `environment`: its own, or any environment whose state
      the person who queued the run can read now (`terraform_remote_state`);
    - WRITE_STATE of `environment`: its own only, while that person can
      write it;
    - READ_RUN of `run`: its own run only, while that person can read it.

    Anything else (another action, no target, a door that names none) is
    refused, and the door answers 404 as for a stranger. The queuer's
    membership is looked up on every call. Not a run token: True, the
    levels above decide.
    """
    if not is_run_token(token):
        return True
    if action == READ_STATE and environment is not None:
        return at_least(_queuer_level(token, environment.namespace), Level.READ)
    if action == WRITE_STATE and environment is not None:
        return environment.pk == token.scope_environment_id and at_least(
            _queuer_level(token, environment.namespace), Level.WRITE
        )
    if action == READ_RUN and run is not None:
        return run.pk == token.scope_run_id and at_least(
            _queuer_level(token, run.environment.namespace), Level.READ
        )
    return False


def readable_namespaces_q(user, field="namespace"):
    """A filter on `field` (a namespace foreign key, or "pk" for namespaces
    themselves) for rows `user` may read; a subquery, so no duplicate rows."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    lookup = "pk" if field == "pk" else f"{field}_id"
    organizations = Membership.objects.filter(user=user).values("organization__namespace_id")
    return Q(**{lookup: user.namespace_id}) | Q(**{f"{lookup}__in": organizations})


def readable_namespaces(user):
    return Namespace.objects.filter(readable_namespaces_q(user, field="pk"))
