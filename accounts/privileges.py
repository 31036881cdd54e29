"""What a user, through a token or a session, may do in a namespace.

This is the one place that answers the question; every app calls it. Levels
are ordered read < write < admin. A user is admin of their own namespace and
holds their membership's level in an organization. A read-only token caps
the level at read.
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
        if token.kind == Token.Kind.RUN:
            # A run token reads what the person who queued the run may read,
            # and writes only the state of the run's own environment.
            level = _cap(level, Level.READ)
            if environment is not None and token.scope_environment_id == environment.pk:
                level = Level.WRITE
    return level


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
