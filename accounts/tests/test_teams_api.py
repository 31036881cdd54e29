"""Teams under /api/v1/organizations/:org/teams: members read, owners change.

The owners team is the organization's admins: it always exists, cannot be
renamed, deleted or emptied, and joining it makes a member admin.
"""

import pytest

from accounts.models import Grant, Level, MemberLevel, Membership, Team, TeamMembership
from accounts.tests.factories import UserFactory, grant, member, team
from environments.tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db

TEAMS = "/api/v1/organizations/acme/teams"


def test_every_organization_has_its_owners_team_listing_the_admins(personas):
    response = personas.reader.client.get(TEAMS)
    assert response.status_code == 200
    body = response.json()
    assert body["teams"] == [
        {
            "name": "owners",
            "owners": True,
            "members": ["admin"],
            "created_at": body["teams"][0]["created_at"],
        }
    ]
    assert body["meta"] == {"total": 1, "page": 1, "per_page": 20}


def test_an_owner_creates_a_team_from_json_or_a_form(personas):
    response = personas.admin.client.post(TEAMS, {"team": {"name": "ops"}}, format="json")
    assert response.status_code == 201
    assert response.json()["team"] == {
        "name": "ops",
        "owners": False,
        "members": [],
        "created_at": response.json()["team"]["created_at"],
        "access": [],
    }
    response = personas.admin.client.post(
        TEAMS, "team[name]=dev", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201
    assert sorted(Team.objects.values_list("name", flat=True)) == ["dev", "ops", "owners"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("OWNERS", "has already been taken"),
        ("has space", "is invalid: use 1 to 64 letters, digits, '-', '_' or '.', not starting"),
    ],
)
def test_a_taken_or_invalid_team_name_is_a_422_naming_the_field(personas, name, message):
    response = personas.admin.client.post(TEAMS, {"team": {"name": name}}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"]["name"][0].startswith(message)
    assert Team.objects.count() == 1


def test_a_body_without_its_envelope_is_a_400(personas):
    response = personas.admin.client.post(TEAMS, {"name": "ops"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"team"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 201), ("writer", 403), ("reader", 403), ("outsider", 404)],
)
def test_only_owners_create_teams_and_outsiders_see_nothing(personas, role, expected):
    client = getattr(personas, role).client
    response = client.post(TEAMS, {"team": {"name": "ops"}}, format="json")
    assert response.status_code == expected
    assert Team.objects.filter(name="ops").exists() == (expected == 201)
    assert client.get(TEAMS).status_code == (404 if role == "outsider" else 200)


def test_a_team_shows_its_members_and_environments(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    ops = team(personas.org, "ops", personas.reader.user)
    grant(environment, Level.WRITE, team=ops)
    response = personas.writer.client.get(f"{TEAMS}/OPS")
    assert response.status_code == 200
    body = response.json()["team"]
    assert body["members"] == ["reader"]
    assert body["access"] == [{"environment": "acme/app", "level": "write"}]


def test_an_owner_renames_and_deletes_a_team_its_grants_go_with_it(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    grant(environment, Level.WRITE, team=team(personas.org, "ops", personas.reader.user))
    client = personas.admin.client
    response = client.patch(f"{TEAMS}/ops", {"team": {"name": "platform"}}, format="json")
    assert response.status_code == 200
    assert response.json()["team"]["name"] == "platform"
    assert client.delete(f"{TEAMS}/platform").status_code == 204
    assert not Team.objects.filter(owners=False).exists()
    assert not Grant.objects.exists()
    assert Membership.objects.filter(user=personas.reader.user).exists()


def test_the_owners_team_can_be_neither_renamed_nor_deleted(personas):
    client = personas.admin.client
    response = client.patch(f"{TEAMS}/owners", {"team": {"name": "bosses"}}, format="json")
    assert response.status_code == 422
    assert response.json() == {"errors": {"name": ["the owners team cannot be renamed or deleted"]}}
    assert client.delete(f"{TEAMS}/owners").status_code == 422
    assert Team.objects.get(owners=True).name == "owners"


def test_an_owner_adds_members_of_the_organization_only(personas):
    team(personas.org, "ops")
    client = personas.admin.client
    url = f"{TEAMS}/ops/members"
    response = client.post(url, {"membership": {"username": "Reader"}}, format="json")
    assert response.status_code == 201
    assert response.json() == {"membership": {"username": "reader"}}
    again = client.post(url, {"membership": {"username": "reader"}}, format="json")
    assert again.status_code == 422
    assert again.json() == {"errors": {"username": ["is already in the team"]}}
    outsider = client.post(url, {"membership": {"username": "outsider"}}, format="json")
    assert outsider.status_code == 422
    assert outsider.json() == {"errors": {"username": ["is not a member of the organization"]}}
    ghost = client.post(
        url, "membership[username]=ghost", content_type="application/x-www-form-urlencoded"
    )
    assert ghost.status_code == 422
    assert list(TeamMembership.objects.values_list("user__username", flat=True)) == ["reader"]


def test_joining_the_owners_team_makes_a_member_admin_and_leaving_it_a_reader(personas):
    client = personas.admin.client
    response = client.post(
        f"{TEAMS}/owners/members", {"membership": {"username": "writer"}}, format="json"
    )
    assert response.status_code == 201
    assert Membership.objects.get(user=personas.writer.user).level == MemberLevel.ADMIN
    assert client.delete(f"{TEAMS}/owners/members/writer").status_code == 204
    assert Membership.objects.get(user=personas.writer.user).level == MemberLevel.READ


def test_the_owners_team_cannot_be_emptied(personas):
    response = personas.admin.client.delete(f"{TEAMS}/owners/members/admin")
    assert response.status_code == 422
    assert response.json() == {
        "errors": {"username": ["the owners team cannot be emptied: add another owner first"]}
    }
    assert Membership.objects.get(user=personas.admin.user).level == MemberLevel.ADMIN


def test_removing_someone_who_is_not_in_the_team_is_a_404(personas):
    team(personas.org, "ops")
    response = personas.admin.client.delete(f"{TEAMS}/ops/members/reader")
    assert response.status_code == 404
    assert personas.admin.client.delete(f"{TEAMS}/nope/members/reader").status_code == 404


def test_leaving_the_organization_leaves_its_teams(personas):
    ops = team(personas.org, "ops", personas.reader.user)
    response = personas.admin.client.delete("/api/v1/organizations/acme/members/reader")
    assert response.status_code == 204
    assert not ops.memberships.exists()


def test_a_read_only_token_of_an_owner_changes_nothing(personas):
    from accounts.tests.factories import token_for
    from conftest import api_client

    client = api_client(token_for(personas.admin.user, read_only=True))
    assert client.post(TEAMS, {"team": {"name": "ops"}}, format="json").status_code == 403
    assert client.get(TEAMS).status_code == 200
    assert Team.objects.count() == 1


def test_the_team_list_costs_the_same_queries_for_more_teams(personas, django_assert_num_queries):
    team(personas.org, "ops", personas.reader.user)
    personas.reader.client.get(TEAMS)  # the token's first use is recorded once
    # token, namespace, membership, count, teams, their members, the owners
    with django_assert_num_queries(7):
        assert personas.reader.client.get(TEAMS).status_code == 200
    for index in range(5):
        extra = UserFactory()
        member(personas.org, extra, MemberLevel.NONE)
        team(personas.org, f"team{index}", extra, personas.reader.user)
    with django_assert_num_queries(7):
        response = personas.reader.client.get(TEAMS)
    assert len(response.json()["teams"]) == 7
