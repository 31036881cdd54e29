"""Domain rules for organizations and memberships, shared by API and web UI.

Every change is recorded in the audit trail here, once, whichever door
asked for it.
"""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from . import audit
from .models import (
    MemberLevel,
    Membership,
    Namespace,
    Organization,
    TeamMembership,
    User,
)
from .names import validate_name

TAKEN = "has already been taken"


class MembershipError(ValidationError):
    """A membership change that the rules refuse (422 in the API)."""


def name_taken(name, namespace_id=None):
    """Whether another user or organization holds `name`, in any case (they
    share one namespace of names); `namespace_id` is the holder's own, when
    renaming it."""
    holders = Namespace.objects.filter(name__iexact=name)
    if namespace_id is not None:
        holders = holders.exclude(pk=namespace_id)
    return holders.exists()


@transaction.atomic
def create_organization(creator, name, email=""):
    """Create an organization; its creator becomes its admin (in its owners team)."""
    try:
        validate_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    if name_taken(name):
        raise ValidationError({"name": [TAKEN]})
    try:
        with transaction.atomic():
            namespace = Namespace.objects.create(name=name, kind=Namespace.Kind.ORGANIZATION)
    except IntegrityError:
        raise ValidationError({"name": [TAKEN]}) from None
    organization = Organization.objects.create(namespace=namespace, email=email)
    Membership.objects.create(user=creator, organization=organization, level=MemberLevel.ADMIN)
    audit.record("organization.create", obj=organization, name=name, actor=creator)
    return organization


@transaction.atomic
def set_require_two_factor(organization, required, actor):
    """Require (or stop requiring) two-factor sign-in of the organization's members.

    Only an owner who signs in with a second factor may require it, so the
    one who closes the web UI to members without it is never shut out.
    """
    from . import twofactor

    if required and not twofactor.is_enabled(actor):
        raise ValidationError(
            {"require_two_factor": ["set up two-factor sign-in for yourself first"]}
        )
    before = organization.require_two_factor
    organization.require_two_factor = bool(required)
    organization.save(update_fields=["require_two_factor"])
    if before != organization.require_two_factor:
        audit.record(
            "organization.update",
            obj=organization,
            name=organization.name,
            before={"require_two_factor": before},
            after={"require_two_factor": organization.require_two_factor},
        )
    return organization


def find_user(username):
    return User.objects.filter(username__iexact=username, is_active=True).first()


def _check_level(level):
    if level not in MemberLevel.values:
        raise MembershipError({"level": [f"must be one of {', '.join(MemberLevel.values)}"]})


@transaction.atomic
def add_member(organization, user, level):
    """Make `user` a member at once (operators, and accepted invitations)."""
    _check_level(level)
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise MembershipError({"username": ["is already a member"]})
    membership = Membership.objects.create(organization=organization, user=user, level=level)
    audit.record("member.add", obj=membership, name=user.username, after={"level": level})
    return membership


def an_admin_remains(organization, leaving=(), joining=False):
    """The last-admin rule: whether `organization` keeps an admin (a member of
    its owners team) once the memberships `leaving` (ids) stop being admins
    and, with `joining`, someone becomes one.

    Call it inside the transaction that makes the change: it locks the
    organization's admin rows until that transaction ends, so two changes
    (two demotions, a demotion and a removal, an API call and the admin
    site) cannot both pass on a stale count.
    """
    admins = set(
        Membership.objects.select_for_update()
        .filter(organization=organization, level=MemberLevel.ADMIN)
        .values_list("pk", flat=True)
    )
    return joining or bool(admins - set(leaving))


@transaction.atomic
def change_level(membership, level):
    """Change a member's default level; admin is the owners team, which keeps one member."""
    _check_level(level)
    if level != MemberLevel.ADMIN and not an_admin_remains(
        membership.organization, leaving=[membership.pk]
    ):
        raise MembershipError({"level": ["the last admin of an organization cannot be demoted"]})
    before = membership.level
    membership.level = level
    membership.save(update_fields=["level"])
    if before != level:
        audit.record(
            "member.update",
            obj=membership,
            name=membership.user.username,
            before={"level": before},
            after={"level": level},
        )
    return membership


@transaction.atomic
def remove_member(membership):
    """Remove a member, and with them their places in the organization's teams."""
    if not an_admin_remains(membership.organization, leaving=[membership.pk]):
        raise MembershipError({"username": ["the last admin of an organization cannot be removed"]})
    TeamMembership.objects.filter(
        user_id=membership.user_id, team__organization_id=membership.organization_id
    ).delete()
    audit.record(
        "member.remove",
        obj=membership,
        name=membership.user.username,
        before={"level": membership.level},
    )
    membership.delete()


@transaction.atomic
def create_user(*, username, password, email):
    """A new person's account (sign-up); errors name `username` or `password`."""
    try:
        validate_name(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from None
    if name_taken(username):
        raise ValidationError({"username": [TAKEN]})
    user = User(username=username, email=email)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)
    user.save()
    audit.record("user.sign_up", obj=user, name=username, actor=user)
    return user
