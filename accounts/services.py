"""Domain rules for organizations and memberships, shared by API and web UI."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .models import Level, Membership, Namespace, Organization, User
from .names import validate_name

TAKEN = "has already been taken"


class MembershipError(ValidationError):
    """A membership change that the rules refuse (422 in the API)."""


def name_taken(name):
    return Namespace.objects.filter(name__iexact=name).exists()


@transaction.atomic
def create_organization(creator, name, email=""):
    """Create an organization; its creator becomes its admin."""
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
    Membership.objects.create(user=creator, organization=organization, level=Level.ADMIN)
    return organization


def find_user(username):
    return User.objects.filter(username__iexact=username, is_active=True).first()


@transaction.atomic
def add_member(organization, user, level):
    if level not in Level.values:
        raise MembershipError({"level": [f"must be one of {', '.join(Level.values)}"]})
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise MembershipError({"username": ["is already a member"]})
    return Membership.objects.create(organization=organization, user=user, level=level)


def _lock_admins(organization):
    """Lock the organization's admin rows so two demotions cannot both pass."""
    return list(
        Membership.objects.select_for_update()
        .filter(organization=organization, level=Level.ADMIN)
        .values_list("pk", flat=True)
    )


@transaction.atomic
def change_level(membership, level):
    if level not in Level.values:
        raise MembershipError({"level": [f"must be one of {', '.join(Level.values)}"]})
    admins = _lock_admins(membership.organization)
    if level != Level.ADMIN and admins == [membership.pk]:
        raise MembershipError({"level": ["the last admin of an organization cannot be demoted"]})
    membership.level = level
    membership.save(update_fields=["level"])
    return membership


@transaction.atomic
def remove_member(membership):
    admins = _lock_admins(membership.organization)
    if admins == [membership.pk]:
        raise MembershipError({"username": ["the last admin of an organization cannot be removed"]})
    membership.delete()
