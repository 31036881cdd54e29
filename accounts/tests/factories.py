"""factory-boy factories for accounts models."""

import factory

from accounts import tokens
from accounts.models import Level, Membership, Organization, User
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


__all__ = ["PASSWORD", "Organization", "UserFactory", "member", "organization", "token_for"]
