"""factory-boy factories for accounts models."""

import hashlib
import secrets
import time
from datetime import timedelta

import factory
from django.utils import timezone
from django_otp.oath import TOTP

from accounts import audit, invitations, terraform_login, tokens, twofactor
from accounts.models import (
    AuthFailureCount,
    Grant,
    Invitation,
    Level,
    LoginCode,
    MemberLevel,
    Membership,
    Namespace,
    Organization,
    Team,
    TeamMembership,
    Token,
    User,
)
from accounts.services import create_organization
from accounts.sessions import SessionStore, WebSession
from accounts.twofactor.models import RecoveryCode, RecoveryCodeDevice, TotpDevice

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


class NamespaceFactory(factory.django.DjangoModelFactory):
    """A namespace; as every namespace belongs to someone, a new user's."""

    class Meta:
        model = Namespace

    name = factory.Sequence(lambda n: f"space{n}")

    @classmethod
    def _create(cls, model_class, name, **kwargs):
        return UserFactory(username=name).namespace


class OrganizationFactory(factory.django.DjangoModelFactory):
    """An organization made as people make one: `owner` (a new user unless
    given) created it and is in its owners team."""

    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"org{n}")
    owner = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, name, owner, **kwargs):
        return create_organization(owner, name, **kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    level = MemberLevel.READ


class TokenFactory(factory.django.DjangoModelFactory):
    """A token issued by the token rule; its text (shown once) is `.text`."""

    class Meta:
        model = Token

    user = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, user, **kwargs):
        token, text = tokens.issue(user, **kwargs)
        token.text = text
        return token


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"team{n}")


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    """A member of the team's organization (made a member first) in the team."""

    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.LazyAttribute(
        lambda row: MembershipFactory(organization=row.team.organization).user
    )


class GrantFactory(factory.django.DjangoModelFactory):
    """A level on one environment for a user (or a team, given `team=`)."""

    class Meta:
        model = Grant

    environment = factory.SubFactory("environments.tests.factories.EnvironmentFactory")
    user = factory.SubFactory(UserFactory)
    team = None
    level = Level.READ


class InvitationFactory(factory.django.DjangoModelFactory):
    """An invitation by email, sent by the organization's owner (the email
    goes out when the test's transaction commits, as in the server)."""

    class Meta:
        model = Invitation

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    level = MemberLevel.READ

    @classmethod
    def _create(cls, model_class, organization, email, level):
        owner = organization.memberships.filter(level=MemberLevel.ADMIN).first().user
        return invitations.invite(organization, owner, email=email, level=level)


class AuditEventFactory(factory.django.DjangoModelFactory):
    """An event recorded by the audit rule, by a new user in their namespace."""

    class Meta:
        model = audit.AuditEvent

    action = "test.event"
    actor = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, action, actor, **kwargs):
        kwargs.setdefault("namespace", actor.namespace)
        return audit.record(action, actor=actor, **kwargs)


class WebSessionFactory(factory.django.DjangoModelFactory):
    """A signed-in web session of a new user, stored as the server stores one."""

    class Meta:
        model = WebSession

    user = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, user):
        store = SessionStore()
        store["_auth_user_id"] = str(user.pk)
        store.create()
        return WebSession.objects.get(session_key=store.session_key)


class LoginCodeFactory(factory.django.DjangoModelFactory):
    """An unused `terraform login` code; its text is `.code`."""

    class Meta:
        model = LoginCode

    user = factory.SubFactory(UserFactory)
    client_id = "terraform"
    redirect_uri = "http://localhost:10000/login"
    code_challenge = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=5))

    @classmethod
    def _create(cls, model_class, **kwargs):
        code = secrets.token_urlsafe(32)
        row = model_class.objects.create(digest=terraform_login._digest(code), **kwargs)
        row.code = code
        return row


class AuthFailureCountFactory(factory.django.DjangoModelFactory):
    """A counted run of failures, as the embedded throttle store keeps them."""

    class Meta:
        model = AuthFailureCount

    digest = factory.Sequence(lambda n: hashlib.sha256(f"failures{n}".encode()).hexdigest())
    failures = 1
    expires_at = factory.LazyFunction(lambda: time.time() + 300)


class TotpDeviceFactory(factory.django.DjangoModelFactory):
    """An authenticator app: unconfirmed as enrolment starts it, or with
    `confirmed=True` confirmed as `enrol` does (with recovery codes)."""

    class Meta:
        model = TotpDevice

    user = factory.SubFactory(UserFactory)
    confirmed = False

    @classmethod
    def _create(cls, model_class, user, confirmed):
        return enrol(user)[0] if confirmed else twofactor.start_enrolment(user)


class RecoveryCodeDeviceFactory(factory.django.DjangoModelFactory):
    """A user's ten recovery codes; their text is `.codes`."""

    class Meta:
        model = RecoveryCodeDevice

    user = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, user):
        codes = twofactor.new_recovery_codes(user, record=False)
        device = model_class.objects.get(user=user)
        device.codes_text = codes
        return device


class RecoveryCodeFactory(factory.django.DjangoModelFactory):
    """One of a new set of recovery codes."""

    class Meta:
        model = RecoveryCode

    device = factory.SubFactory(RecoveryCodeDeviceFactory)

    @classmethod
    def _create(cls, model_class, device):
        return device.codes.first()


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
    "AuditEventFactory",
    "AuthFailureCountFactory",
    "GrantFactory",
    "InvitationFactory",
    "LoginCodeFactory",
    "MembershipFactory",
    "NamespaceFactory",
    "Organization",
    "OrganizationFactory",
    "RecoveryCodeDeviceFactory",
    "RecoveryCodeFactory",
    "TeamFactory",
    "TeamMembershipFactory",
    "TokenFactory",
    "TotpDeviceFactory",
    "User",
    "UserFactory",
    "WebSessionFactory",
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
