"""factory-boy factories for accounts models."""

import time

import factory
from django_otp.oath import TOTP

from accounts import tokens, twofactor
from accounts.models import Grant, Level, Membership, Organization, Team, TeamMembership, User
from accounts.services import create_organization

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def organization(name, admin):
    """An organization created the way users create one (admin = creator)."""
    return create_organization(admin, name)


def member(org, user, level=Level.READ):
    return Membership.objects.create(organization=org, user=user, level=level)


def token_for(user, **kwargs):
    """A new token's text."""
    return tokens.issue(user, **kwargs)[1]


def run_token_for(user, environment):
    """A run token's text, as the worker issues it for a run on `environment`."""
    token, text = tokens.issue(user, kind=tokens.Token.Kind.RUN)
    tokens.Token.objects.filter(pk=token.pk).update(scope_environment_id=environment.pk)
    return text


def team(org, name, *users):
    """A team of `org` with `users` (who must be members already)."""
    created = Team.objects.create(organization=org, name=name)
    for user in users:
        TeamMembership.objects.create(team=created, user=user)
    return created


def grant(environment, level, *, team=None, user=None):
    return Grant.objects.create(environment=environment, level=level, team=team, user=user)


def totp_code(device, steps_ahead=0):
    """The code `device`'s authenticator app shows now (or `steps_ahead` steps later)."""
    counter = TOTP(device.secret, step=30, digits=6)
    counter.time = time.time() + 30 * steps_ahead
    return f"{counter.token():06d}"


def enrol(user):
    """Two-factor sign-in for `user`: (the confirmed app, its ten recovery codes).

    Confirmed with the previous time step's code, so the test can still use
    the codes of this step and the next (each code works once, in order)."""
    device = twofactor.start_enrolment(user)
    codes = twofactor.confirm_enrolment(device, totp_code(device, steps_ahead=-1))
    device.refresh_from_db()
    return device, codes


__all__ = [
    "PASSWORD",
    "Organization",
    "UserFactory",
    "enrol",
    "grant",
    "grantees",
    "member",
    "organization",
    "run_token_for",
    "team",
    "token_for",
    "totp_code",
]


def grantees(org, environment, other_environment):
    """People who reach `environment` only through grants, each with a token:
    `team_writer` (a member with no default level, in a team granted write),
    `collaborator` (not a member, granted read on their own) and
    `other_team` (a member with no default level whose team is granted
    admin on `other_environment` only)."""
    people = {}
    for name in ("team_writer", "collaborator", "other_team"):
        people[name] = UserFactory(username=name.replace("_", "-"))
    member(org, people["team_writer"], "none")
    member(org, people["other_team"], "none")
    grant(environment, Level.WRITE, team=team(org, "ops", people["team_writer"]))
    grant(other_environment, Level.ADMIN, team=team(org, "others", people["other_team"]))
    grant(environment, Level.READ, user=people["collaborator"])
    return {name: (user, token_for(user)) for name, user in people.items()}
