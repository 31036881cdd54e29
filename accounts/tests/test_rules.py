"""Rules kept in one function each: the last admin, which person a caller may
see, who may issue tokens, and the words a yes/no flag may be."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services, tokens
from accounts.models import Level, MemberLevel, Token
from accounts.privileges import token_issue_refusal, visible_namespace
from accounts.tests.factories import UserFactory, member, organization
from atlas.flags import parse_flag

pytestmark = pytest.mark.django_db


def test_an_admin_remains_counts_the_admins_the_database_holds(personas):
    org = personas.org
    admin = org.memberships.get(user=personas.admin.user)
    writer = org.memberships.get(user=personas.writer.user)
    assert services.an_admin_remains(org)
    assert not services.an_admin_remains(org, leaving=[admin.pk])
    assert services.an_admin_remains(org, leaving=[admin.pk], joining=True)
    services.change_level(writer, MemberLevel.ADMIN)
    assert services.an_admin_remains(org, leaving=[admin.pk])
    assert not services.an_admin_remains(org, leaving=[admin.pk, writer.pk])


def test_people_see_themselves_their_organizations_and_their_colleagues(personas):
    reader = personas.reader.user
    assert visible_namespace(reader, "READER") == reader.namespace
    assert visible_namespace(reader, "acme") == personas.org.namespace
    assert visible_namespace(reader, "writer") == personas.writer.user.namespace
    assert visible_namespace(reader, "outsider") is None
    stranger = UserFactory(username="stranger")
    organization("elsewhere", stranger)
    assert visible_namespace(reader, "elsewhere") is None
    assert visible_namespace(reader, "stranger") is None
    member(personas.org, stranger, Level.READ)
    assert visible_namespace(reader, "stranger") == stranger.namespace


def test_only_a_persons_own_token_issues_tokens(personas):
    assert token_issue_refusal(None).startswith("Generate tokens at /settings/tokens")
    own, _text = tokens.issue(personas.writer.user)
    assert token_issue_refusal(own) is None
    runs, _text = tokens.issue(personas.writer.user, kind=Token.Kind.RUN)
    assert token_issue_refusal(runs) == "This token may not create tokens."


def test_a_new_tokens_expiry_is_never_or_still_to_come():
    now = timezone.now()
    assert tokens.expiry_allowed(None)
    assert tokens.expiry_allowed(now + timedelta(minutes=1))
    assert not tokens.expiry_allowed(now - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        (True, True),
        (False, False),
        (None, False),
        ("true", True),
        (" Yes ", True),
        ("ON", True),
        ("1", True),
        ("false", False),
        ("no", False),
        ("off", False),
        ("0", False),
        ("", False),
        ("maybe", None),
        (1, None),
        (["true"], None),
    ],
)
def test_a_flag_is_one_of_the_same_words_at_every_door(value, flag):
    assert parse_flag(value) is flag
