"""What a user, through a token or a session, may do in a namespace.

This is the one place that answers the question; every app calls it. Levels
are ordered read < write < admin. A user is admin of their own namespace. In
an organization, a member's level is their membership's default level (none,
read, write or admin; admin is the owners team); on one environment it is
the highest of that default, their own grant and their teams' grants, so a
grant can raise a level and never lowers one. Users outside the
organization hold only what grants give them. A read-only token caps the
level at read and refuses every unsafe method. A run's own token is not a
person's: what it may do is an allow-list, `run_token_allows`, asked at
every door of the API; within it, it reads what its user may read and
writes only its own environment's state, while its user may still write
there.
"""

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)

from .models import (
    Grant,
    Level,
    MemberLevel,
    Membership,
    Namespace,
    TeamMembership,
    Token,
    User,
)

RANK = {None: 0, MemberLevel.NONE: 0, Level.READ: 1, Level.WRITE: 2, Level.ADMIN: 3}
# Membership levels that read every environment of the organization.
DEFAULT_READERS = (MemberLevel.READ, MemberLevel.WRITE, MemberLevel.ADMIN)
# The only literal values the filters and annotations below put into SQL
# (level names, and the ranks that order grants): callers that compile a
# query once with stand-in users may keep these as they are.
SQL_CONSTANTS = frozenset(str(level) for level in MemberLevel.values) | frozenset(RANK.values())


def at_least(level, needed):
    """True when `level` (possibly None) grants `needed`."""
    return RANK[level] >= RANK[needed]


def highest(levels):
    """The highest of `levels` as a Level, or None when none gives access."""
    best = max(levels, key=RANK.__getitem__, default=None)
    return best if RANK[best] > 0 else None


def _cap(level, ceiling):
    return level if RANK[level] <= RANK[ceiling] else ceiling


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_MESSAGE = "This token is read-only."
LEVEL_MESSAGES = {
    Level.READ: "You need read access to this namespace.",
    Level.WRITE: "You need write access to this namespace.",
    Level.ADMIN: "You need admin access to this namespace.",
}
ORGANIZATION_ADMIN_MESSAGE = "You need to be an owner (admin) of this organization."


def is_read_only(token):
    """A read-only token reads: its user's level is capped at read, and it
    may not use any unsafe HTTP method, whatever the door."""
    return token is not None and token.read_only


def token_refuses_method(token, method):
    """Whether `token` may not make a request with HTTP `method` at all."""
    return is_read_only(token) and method not in SAFE_METHODS


def refusal_message(token, needed):
    """Why a caller holding too low a level for `needed` is refused (403)."""
    return READ_ONLY_MESSAGE if is_read_only(token) else LEVEL_MESSAGES[needed]


def organization_refusal_message(token):
    """Why a member who is not an owner is refused an owner's action (403)."""
    return READ_ONLY_MESSAGE if is_read_only(token) else ORGANIZATION_ADMIN_MESSAGE


def token_issue_refusal(token):
    """Why the API refuses to issue a token to this caller, or None.

    A browser session generates tokens on /settings/tokens, which asks for
    the password again, so the API does not let a session skip that step;
    only a person's own token (not a run's) issues another."""
    if token is None:
        return "Generate tokens at /settings/tokens, or authenticate with a token."
    if token.kind != Token.Kind.USER:
        return "This token may not create tokens."
    return None


def _active(user):
    return user is not None and user.is_authenticated and user.is_active


def namespace_level(user, namespace, token=None, environment=None):
    """The level `user` (acting through `token`, if any) holds in `namespace`,
    or on `environment` of that namespace when given.

    None means no access at all: the caller must answer 404; "none" is a
    member of the organization without a default level. At most one
    query, and none for the user's own namespace. Pass `environment`
    whenever the request is about one environment: grants apply to it, and
    a run token writes its own one.
    """
    if not _active(user):
        return None
    if namespace.kind == Namespace.Kind.USER and namespace.pk == user.namespace_id:
        level = Level.ADMIN
    else:
        levels = _levels(user, namespace, environment)
        level = highest(levels)
        if level is None and environment is None and MemberLevel.NONE in levels:
            # A member without a default level sees the organization (403
            # for what needs a level there), never its environments (404).
            level = MemberLevel.NONE
    return _through_token(level, token, environment)


def _through_token(level, token, environment):
    """What a token leaves of its user's `level` on `environment`."""
    if token is not None:
        if is_read_only(token):
            level = _cap(level, Level.READ)
        if is_run_token(token):
            # Past `run_token_allows`, a run token reads what the person who
            # queued the run may read, and writes only the state of the run's
            # own environment, and only while that person may still write there.
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


def _queuer_level(token, environment):
    """The level the person who queued the run holds on `environment` now
    (not when they queued it), grants included: one query, so removing a
    member from the organization or a team stops their runs at once."""
    return namespace_level(token.user, environment.namespace, environment=environment)


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
        return at_least(_queuer_level(token, environment), Level.READ)
    if action == WRITE_STATE and environment is not None:
        return environment.pk == token.scope_environment_id and at_least(
            _queuer_level(token, environment), Level.WRITE
        )
    if action == READ_RUN and run is not None:
        return run.pk == token.scope_run_id and at_least(
            _queuer_level(token, run.environment), Level.READ
        )
    return False


def _levels(user, namespace, environment):
    """The levels that apply to `user` in another's namespace, in one query."""
    queries = []
    if namespace.kind == Namespace.Kind.ORGANIZATION:
        queries.append(
            Membership.objects.filter(user=user, organization__namespace=namespace)
            .order_by()
            .values_list("level")
        )
    if environment is not None and environment.pk is not None:
        grants = Grant.objects.filter(environment_id=environment.pk).order_by()
        queries.append(grants.filter(user=user).values_list("level"))
        queries.append(grants.filter(team__memberships__user=user).values_list("level"))
    if not queries:
        return []
    first, *rest = queries
    rows = first.union(*rest, all=True) if rest else first
    return [row[0] for row in rows]


# The rank of a grant's level in SQL, so a subquery can pick the highest.
_GRANT_RANK = Case(
    *(
        When(level=level, then=Value(RANK[level]))
        for level in (Level.READ, Level.WRITE, Level.ADMIN)
    ),
    default=Value(0),
    output_field=IntegerField(),
)


def level_annotations(user, namespace="namespace", environment="pk"):
    """Annotations for a query of environments that carry what
    `annotated_level` needs: the user's membership level in the row's
    namespace (`namespace`: its foreign key) and the highest level granted
    to them or their teams on the row's environment (`environment`: its key).
    Subqueries: the environment, its namespace and the level in one query."""
    if not _active(user):
        nothing = Value(None, output_field=CharField())
        return {"member_level": nothing, "grant_level": nothing}
    member = Membership.objects.filter(user=user, organization__namespace=OuterRef(namespace))
    teams = TeamMembership.objects.filter(user=user).values("team_id")
    grants = (
        Grant.objects.filter(Q(user=user) | Q(team_id__in=teams), environment=OuterRef(environment))
        .annotate(rank=_GRANT_RANK)
        .order_by("-rank")
    )
    return {
        "member_level": Subquery(member.order_by().values("level")[:1]),
        "grant_level": Subquery(grants.values("level")[:1]),
    }


def annotated_level(user, environment, token=None):
    """`namespace_level(user, environment.namespace, token, environment)` for
    an environment queried with `level_annotations(user)`: no query."""
    if not _active(user):
        return None
    namespace = environment.namespace
    if namespace.kind == Namespace.Kind.USER and namespace.pk == user.namespace_id:
        level = Level.ADMIN
    else:
        levels = [environment.grant_level] if environment.grant_level else []
        if namespace.kind == Namespace.Kind.ORGANIZATION and environment.member_level:
            levels.append(environment.member_level)
        level = highest(levels)
    return _through_token(level, token, environment)


def environment_levels(user, namespace, environments, token=None):
    """{environment id: level} for `environments` (a list) of `namespace`,
    each as `namespace_level` would answer: one query however many."""
    if not _active(user):
        return {environment.pk: None for environment in environments}
    if namespace.kind == Namespace.Kind.USER and namespace.pk == user.namespace_id:
        return {e.pk: _through_token(Level.ADMIN, token, e) for e in environments}
    queries = []
    if namespace.kind == Namespace.Kind.ORGANIZATION:
        queries.append(
            Membership.objects.filter(user=user, organization__namespace=namespace)
            .order_by()
            .annotate(environment=Value(None, output_field=BigIntegerField()))
            .values_list("environment", "level")
        )
    grants = Grant.objects.filter(
        environment_id__in=[environment.pk for environment in environments]
    ).order_by()
    queries.append(grants.filter(user=user).values_list("environment_id", "level"))
    queries.append(
        grants.filter(team__memberships__user=user).values_list("environment_id", "level")
    )
    first, *rest = queries
    default, granted = [], {}
    for environment_id, level in first.union(*rest, all=True):
        if environment_id is None:
            default.append(level)
        else:
            granted.setdefault(environment_id, []).append(level)
    return {
        environment.pk: _through_token(
            highest([*default, *granted.get(environment.pk, [])]), token, environment
        )
        for environment in environments
    }


def organization_level(user, organization, token=None):
    """The user's membership level in `organization` ("none" included), or
    None when they are not a member. Members see the organization, its
    members and teams; admins (the owners team) manage them. A read-only
    token or a run token manages nothing. One query."""
    if not _active(user):
        return None
    level = (
        Membership.objects.filter(user=user, organization=organization)
        .order_by()
        .values_list("level", flat=True)
        .first()
    )
    if level is not None and (is_read_only(token) or is_run_token(token)):
        level = _cap(level, Level.READ)
    return level


def adds_members_directly(user):
    """Whether `user` adds an existing person to an organization at once
    (operators: staff), where owners otherwise send an invitation."""
    return bool(user.is_staff)


def is_owner(level):
    """Whether a membership level is the owners team's (organization admin)."""
    return level == MemberLevel.ADMIN


def granted_environments(user):
    """A subquery of the ids of environments granted to `user` or their teams."""
    teams = TeamMembership.objects.filter(user=user).values("team_id")
    return Grant.objects.filter(Q(user=user) | Q(team_id__in=teams)).values("environment_id")


def _default_namespaces(user):
    """A subquery of the namespaces of organizations whose every environment
    `user` reads by default."""
    return Membership.objects.filter(user=user, level__in=DEFAULT_READERS).values(
        "organization__namespace_id"
    )


def readable_environments_q(user, namespace="namespace", environment="pk"):
    """A filter for rows of environments `user` may read: `namespace` names
    the row's namespace foreign key, `environment` its environment's ("pk"
    for environments themselves). Subqueries: no duplicate rows, and the
    same number of queries however many rows or grants there are."""
    if not _active(user):
        return Q(pk__in=[])
    environment = "pk" if environment == "pk" else f"{environment}_id"
    return (
        Q(**{f"{namespace}_id": user.namespace_id})
        | Q(**{f"{namespace}_id__in": _default_namespaces(user)})
        | Q(**{f"{environment}__in": granted_environments(user)})
    )


def readable_namespaces_q(user, field="namespace"):
    """A filter on `field` (a namespace foreign key, or "pk" for namespaces
    themselves) for namespaces `user` may see: their own, organizations they
    belong to, and namespaces holding an environment granted to them.

    Not for rows of environments: those need `readable_environments_q`,
    which also leaves out the environments of such a namespace that the
    user may not read."""
    if not _active(user):
        return Q(pk__in=[])
    lookup = "pk" if field == "pk" else f"{field}_id"
    organizations = Membership.objects.filter(user=user).values("organization__namespace_id")
    teams = TeamMembership.objects.filter(user=user).values("team_id")
    granted = Grant.objects.filter(Q(user=user) | Q(team_id__in=teams)).values(
        "environment__namespace_id"
    )
    return (
        Q(**{lookup: user.namespace_id})
        | Q(**{f"{lookup}__in": organizations})
        | Q(**{f"{lookup}__in": granted})
    )


def readable_namespaces(user):
    return Namespace.objects.filter(readable_namespaces_q(user, field="pk"))


def visible_namespace(user, name):
    """The namespace named `name` (any case) if `user` may see it, else None:
    a namespace `readable_namespaces` holds, or the personal namespace of an
    active person who shares an organization with `user` (members see each
    other). Two queries at most."""
    namespace = readable_namespaces(user).filter(name__iexact=name).first()
    if namespace is not None or not _active(user):
        return namespace
    colleagues = Membership.objects.filter(organization__memberships__user=user).values("user_id")
    person = (
        User.objects.select_related("namespace")
        .filter(username__iexact=name, is_active=True, pk__in=colleagues)
        .first()
    )
    return person.namespace if person is not None else None


def writable_namespaces(user):
    """Namespaces where `user` may create environments (write by default)."""
    if not _active(user):
        return Namespace.objects.none()
    organizations = Membership.objects.filter(
        user=user, level__in=[MemberLevel.WRITE, MemberLevel.ADMIN]
    ).values("organization__namespace_id")
    return Namespace.objects.filter(Q(pk=user.namespace_id) | Q(pk__in=organizations))


def two_factor_closes(user, namespace, verified):
    """Whether the web UI stays closed to `user` in `namespace`: the
    organization requires two-factor sign-in and this session was not
    verified with a second factor. API tokens are not subject to it."""
    if verified or namespace.kind != Namespace.Kind.ORGANIZATION:
        return False
    organization = getattr(namespace, "organization", None)
    return bool(organization is not None and organization.require_two_factor)


def session_verified(user):
    """Whether the signed-in user's session passed a second factor
    (django-otp's middleware marks it)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified()) if callable(is_verified) else False
