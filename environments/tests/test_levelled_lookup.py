"""`environments.lookup.environment_with_level`: the environment a URL names,
its namespace and organization and the caller's level in one query, compiled
once per process; exactly what the ORM's select_related + level_annotations
queryset finds."""

import itertools

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from accounts import privileges
from accounts.models import Level, Membership, Token
from accounts.tests.factories import UserFactory, grant, member, team
from environments.lookup import _compiled_levelled, environment_with_level
from environments.models import Environment
from environments.tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db


def _orm(user, username, name):
    return (
        Environment.objects.select_related("namespace__organization")
        .annotate(**privileges.level_annotations(user))
        .filter(namespace__name__iexact=username, name__iexact=name)
        .first()
    )


def _columns(instance):
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def _assert_same(found, expected):
    assert _columns(found) == _columns(expected)
    assert (found.member_level, found.grant_level) == (expected.member_level, expected.grant_level)
    assert _columns(found.namespace) == _columns(expected.namespace)
    organization = getattr(expected.namespace, "organization", None)
    assert _columns(getattr(found.namespace, "organization", None)) == _columns(organization)


def test_it_is_compiled_and_reads_everything_in_one_query(personas, django_assert_num_queries):
    app = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    assert _compiled_levelled(connection) is not None
    with django_assert_num_queries(1):
        found = environment_with_level(personas.reader.user, "ACME", "App")
        # Everything the access check and the views read next is loaded.
        assert found.namespace.organization.namespace.name == "acme"
        level = privileges.annotated_level(personas.reader.user, found)
    assert found.pk == app.pk and level == Level.READ
    assert found._state.adding is False and found.get_deferred_fields() == set()
    _assert_same(found, _orm(personas.reader.user, "ACME", "App"))


def test_ones_own_environment_has_no_organization(personas, django_assert_num_queries):
    mine = EnvironmentFactory(namespace=personas.writer.user.namespace, name="mine")
    with django_assert_num_queries(1):
        found = environment_with_level(personas.writer.user, "writer", "MINE")
        assert not hasattr(found.namespace, "organization")  # cached as absent, no query
    assert found.pk == mine.pk
    _assert_same(found, _orm(personas.writer.user, "writer", "MINE"))


def test_every_membership_and_grant_gives_the_levels_the_orm_gives(personas):
    app = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    user = UserFactory(username="tess")
    read_only = Token(user=user, read_only=True)
    memberships = [None, "none", Level.READ, Level.ADMIN]
    grants = [None, Level.READ, Level.WRITE, Level.ADMIN]
    checked = set()
    for case, (membership, own, through_team) in enumerate(
        itertools.product(memberships, grants, grants)
    ):
        Membership.objects.filter(user=user).delete()
        app.grants.all().delete()
        if membership is not None:
            member(personas.org, user, membership)
        if own is not None:
            grant(app, own, user=user)
        if through_team is not None and membership is not None:
            grant(app, through_team, team=team(personas.org, f"ops-{case}", user))
        found = environment_with_level(user, "acme", "app")
        _assert_same(found, _orm(user, "acme", "app"))
        for token in (None, read_only):
            level = privileges.annotated_level(user, found, token)
            assert level == privileges.namespace_level(user, app.namespace, token, app), case
            checked.add(level)
    assert checked == {None, Level.READ, Level.WRITE, Level.ADMIN}


@pytest.mark.parametrize(
    ("username", "name"),
    [
        ("acme", "missing"),
        ("nobody", "app"),
        ("acme", "\u212app"),  # KELVIN SIGN: lower() makes it "k", iexact would not
        ("\u0430cme", "app"),  # Cyrillic a
        ("acme", "ap_"),  # a LIKE wildcard in iexact, a plain character here
        ("acme", "ap%"),
    ],
)
def test_anything_else_is_not_found_without_a_guess(personas, username, name):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    EnvironmentFactory(namespace=personas.org.namespace, name="kpp")
    assert environment_with_level(personas.admin.user, username, name) is None
    assert _orm(personas.admin.user, username, name) is None


def test_no_level_to_read_for_an_inactive_or_anonymous_user(personas, django_assert_num_queries):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    personas.admin.user.is_active = False
    with django_assert_num_queries(0):
        assert environment_with_level(personas.admin.user, "acme", "app") is None
        assert environment_with_level(AnonymousUser(), "acme", "app") is None
