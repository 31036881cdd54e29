"""`level_annotations` + `annotated_level`, the one-query form of the level
check on an environment, answer exactly what `namespace_level` answers."""

import itertools

import pytest

from accounts import privileges
from accounts.models import Level, Membership, Token
from accounts.tests.factories import UserFactory, grant, member, team
from environments.models import Environment
from environments.tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db

MEMBERSHIPS = [None, "none", Level.READ, Level.WRITE, Level.ADMIN]
GRANTS = [None, Level.READ, Level.WRITE, Level.ADMIN]


def _annotated(user, environment, token=None):
    found = (
        Environment.objects.select_related("namespace")
        .annotate(**privileges.level_annotations(user))
        .get(pk=environment.pk)
    )
    return privileges.annotated_level(user, found, token)


def _expected(user, environment, token=None):
    return privileges.namespace_level(user, environment.namespace, token, environment)


def test_every_membership_and_grant_gives_the_same_level(personas):
    app = EnvironmentFactory(name="app")
    other = EnvironmentFactory(name="other")
    user = UserFactory(username="tess")
    read_only = Token(user=user, read_only=True)
    checked = set()
    for case, (membership, own, through_team) in enumerate(
        itertools.product(MEMBERSHIPS, GRANTS, GRANTS)
    ):
        Membership.objects.filter(user=user).delete()
        app.grants.all().delete()
        other.grants.all().delete()
        if membership is not None:
            member(personas.org, user, membership)
        if own is not None:
            grant(app, own, user=user)
            grant(other, Level.ADMIN, user=user)  # another environment's grant counts not
        if through_team is not None:
            if membership is not None:
                ops = team(personas.org, f"ops-{case}", user)
                grant(app, through_team, team=ops)
            grant(app, Level.READ, team=team(personas.org, f"nobody-{case}"))
        for token in (None, read_only):
            expected = _expected(user, app, token)
            assert _annotated(user, app, token) == expected, (membership, own, through_team)
            checked.add(expected)
    assert checked == {None, Level.READ, Level.WRITE, Level.ADMIN}


def test_ones_own_namespace_is_admin_and_another_users_is_nothing(personas):
    mine = EnvironmentFactory(namespace=personas.writer.user.namespace, name="mine")
    theirs = EnvironmentFactory(namespace=personas.reader.user.namespace, name="theirs")
    assert _annotated(personas.writer.user, mine) == Level.ADMIN
    assert _annotated(personas.writer.user, theirs) is None
    grant(theirs, Level.WRITE, user=personas.writer.user)
    assert _annotated(personas.writer.user, theirs) == _expected(personas.writer.user, theirs)
    assert _annotated(personas.writer.user, theirs) == Level.WRITE


def test_an_inactive_user_has_no_level(personas):
    app = EnvironmentFactory(name="app")
    personas.admin.user.is_active = False
    assert _annotated(personas.admin.user, app) is None
