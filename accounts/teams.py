"""Teams and environment grants: the rules, shared by API and web UI.

The owners team's members are the organization's admins (Membership level
admin): joining it makes a member admin, leaving it makes them a reader, and
its last member can leave only by another member joining first. Other
teams hold members of the organization; grants give a team or one user a
level on one environment. Every change is recorded in the audit trail here.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import audit, services
from .models import Grant, Level, MemberLevel, Membership, Team, TeamMembership, User
from .names import validate_name

OWNERS_FIXED = "the owners team cannot be renamed or deleted"


def find_team(organization, name):
    return Team.objects.filter(organization=organization, name__iexact=name).first()


def _valid_name(name):
    try:
        validate_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None


@transaction.atomic
def create_team(organization, name):
    _valid_name(name)
    if find_team(organization, name) is not None:
        raise ValidationError({"name": [services.TAKEN]})
    try:
        with transaction.atomic():
            team = Team.objects.create(organization=organization, name=name)
    except IntegrityError:
        raise ValidationError({"name": [services.TAKEN]}) from None
    audit.record("team.create", obj=team, name=name)
    return team


@transaction.atomic
def rename_team(team, name):
    if team.owners:
        raise ValidationError({"name": [OWNERS_FIXED]})
    _valid_name(name)
    other = find_team(team.organization, name)
    if other is not None and other.pk != team.pk:
        raise ValidationError({"name": [services.TAKEN]})
    before = team.name
    team.name = name
    team.save(update_fields=["name"])
    if before != name:
        audit.record("team.update", obj=team, before={"name": before}, after={"name": name})
    return team


@transaction.atomic
def delete_team(team):
    """Delete a team and its grants; its members stay in the organization."""
    if team.owners:
        raise ValidationError({"base": [OWNERS_FIXED]})
    audit.record("team.delete", obj=team)
    team.delete()


def members(team):
    """The team's users, by name."""
    if team.owners:
        users = User.objects.filter(
            memberships__organization_id=team.organization_id,
            memberships__level=MemberLevel.ADMIN,
        )
    else:
        users = User.objects.filter(team_memberships__team=team)
    return users.order_by("username")


def _membership(team, user):
    membership = (
        Membership.objects.select_related("user", "organization")
        .filter(organization_id=team.organization_id, user=user)
        .first()
    )
    if membership is None:
        raise ValidationError({"username": ["is not a member of the organization"]})
    return membership


@transaction.atomic
def add_team_member(team, user):
    membership = _membership(team, user)
    if team.owners:
        if membership.level == MemberLevel.ADMIN:
            raise ValidationError({"username": ["is already in the team"]})
        services.change_level(membership, MemberLevel.ADMIN)
        return
    try:
        with transaction.atomic():
            TeamMembership.objects.create(team=team, user=user)
    except IntegrityError:
        raise ValidationError({"username": ["is already in the team"]}) from None
    audit.record("team.member_add", obj=team, after={"username": user.username})


@transaction.atomic
def remove_team_member(team, user):
    """Take `user` out of `team`; their access through it ends with this transaction.

    Leaving the owners team leaves them a member with read access.
    """
    if team.owners:
        membership = _membership(team, user)
        if membership.level != MemberLevel.ADMIN:
            raise ValidationError({"username": ["is not in the team"]})
        try:
            services.change_level(membership, MemberLevel.READ)
        except services.MembershipError:
            raise ValidationError(
                {"username": ["the owners team cannot be emptied: add another owner first"]}
            ) from None
        return
    removed, _ = TeamMembership.objects.filter(team=team, user=user).delete()
    if not removed:
        raise ValidationError({"username": ["is not in the team"]})
    audit.record("team.member_remove", obj=team, before={"username": user.username})


# Grants


def _check_grant_level(level):
    if level not in Level.values:
        raise ValidationError({"level": [f"must be one of {', '.join(Level.values)}"]})


def team_for_environment(environment, name):
    """The team named `name` of the organization owning `environment`, or None."""
    return Team.objects.filter(
        organization__namespace_id=environment.namespace_id, name__iexact=name
    ).first()


def _grant_name(grant):
    who = f"team {grant.team.name}" if grant.team_id else grant.user.username
    return f"{who} on {grant.environment.slug}"


@transaction.atomic
def set_grant(environment, level, *, team=None, user=None):
    """Give `team` or `user` `level` on `environment`; (grant, created)."""
    _check_grant_level(level)
    if (team is None) == (user is None):
        raise ValueError("grant to a team or to a user")
    if team is not None and team.organization.namespace_id != environment.namespace_id:
        raise ValidationError({"team": ["is not a team of the environment's organization"]})
    if team is not None and team.owners:
        raise ValidationError({"team": ["the owners team is admin of every environment already"]})
    if user is not None and not user.is_active:
        raise ValidationError({"username": ["is not an active user"]})
    who = {"team": team} if team is not None else {"user": user}
    grant = Grant.objects.select_for_update().filter(environment=environment, **who).first()
    before = grant.level if grant is not None else None
    created = grant is None
    if created:
        try:
            with transaction.atomic():
                grant = Grant.objects.create(environment=environment, level=level, **who)
        except IntegrityError:
            grant = Grant.objects.select_for_update().get(environment=environment, **who)
            created = False
            before = grant.level
    if not created and before != level:
        grant.level, grant.updated_at = level, timezone.now()
        grant.save(update_fields=["level", "updated_at"])
    if before != level:
        audit.record(
            "grant.set",
            obj=grant,
            name=_grant_name(grant),
            before={"level": before} if before else None,
            after={"level": level},
        )
    return grant, created


@transaction.atomic
def remove_grant(grant):
    """End a grant; whoever held access only through it loses it at once."""
    audit.record("grant.remove", obj=grant, name=_grant_name(grant), before={"level": grant.level})
    grant.delete()


def environment_grants(environment):
    """(team grants, user grants) of an environment, each by name."""
    grants = Grant.objects.filter(environment=environment).select_related("team", "user")
    teams = sorted((g for g in grants if g.team_id), key=lambda g: g.team.name.lower())
    users = sorted((g for g in grants if g.user_id), key=lambda g: g.user.username.lower())
    return teams, users


def team_grants(team):
    """The environments a team is granted, by name."""
    return (
        Grant.objects.filter(team=team)
        .select_related("environment__namespace")
        .order_by("environment__name")
    )


def user_grant(environment, user):
    return Grant.objects.filter(environment=environment, user=user).first()


def team_grant(environment, team):
    return Grant.objects.filter(environment=environment, team=team).first()


def organization_teams(organization):
    """The organization's teams, the owners team first."""
    return Team.objects.filter(organization=organization).order_by("-owners", "name")


def with_member_names(teams, organization):
    """`teams` (a list), each with `member_names`: two queries however many."""
    teams = list(teams)
    rows = TeamMembership.objects.filter(team__in=[t.pk for t in teams]).values_list(
        "team_id", "user__username"
    )
    by_team = {}
    for team_id, username in rows.order_by("user__username"):
        by_team.setdefault(team_id, []).append(username)
    owners = []
    if any(team.owners for team in teams):
        owners = list(
            Membership.objects.filter(organization=organization, level=MemberLevel.ADMIN)
            .order_by("user__username")
            .values_list("user__username", flat=True)
        )
    for team in teams:
        team.member_names = owners if team.owners else by_team.get(team.pk, [])
    return teams


def teams_with_members(organization):
    """Every team of the organization with its members' names: three queries."""
    return with_member_names(organization_teams(organization), organization)
