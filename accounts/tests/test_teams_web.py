"""The teams pages and an environment's Access tab, without a browser."""

import pytest
from django.test import Client

from accounts.models import Grant, Level, MemberLevel, Membership, Team, TeamMembership
from accounts.tests.factories import grant, team
from environments.tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_an_owner_creates_a_team_and_adds_a_member(personas):
    client = signed_in(personas.admin.user)
    response = client.post("/organizations/acme/teams/new", {"name": "ops"})
    assert response["Location"] == "/organizations/acme/teams/ops"
    page = client.get("/organizations/acme/teams/ops").content.decode()
    assert '<option value="reader">reader</option>' in page
    client.post("/organizations/acme/teams/ops/members", {"username": "reader"})
    assert list(TeamMembership.objects.values_list("user__username", flat=True)) == ["reader"]
    listing = client.get("/organizations/acme/teams").content.decode()
    assert "reader" in listing and "owners" in listing


def test_an_owner_renames_and_deletes_a_team_but_not_the_owners(personas):
    team(personas.org, "ops")
    client = signed_in(personas.admin.user)
    client.post("/organizations/acme/teams/ops/rename", {"name": "platform"})
    assert Team.objects.filter(name="platform").exists()
    client.post("/organizations/acme/teams/platform/delete")
    assert not Team.objects.filter(owners=False).exists()
    response = client.post("/organizations/acme/teams/owners/delete", follow=True)
    assert "The owners team cannot be renamed or deleted." in response.content.decode()
    assert Team.objects.filter(owners=True).exists()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/organizations/acme/teams/new", {"name": "x"}),
        ("/organizations/acme/teams/ops/members", {"username": "reader"}),
        ("/organizations/acme/teams/ops/members/writer/remove", {}),
        ("/organizations/acme/teams/ops/delete", {}),
    ],
)
@pytest.mark.parametrize(("role", "expected"), [("writer", 403), ("outsider", 404)])
def test_members_who_are_not_owners_change_no_team(personas, url, data, role, expected):
    team(personas.org, "ops", personas.writer.user)
    response = signed_in(getattr(personas, role).user).post(url, data)
    assert response.status_code == expected
    assert Team.objects.count() == 2
    assert TeamMembership.objects.count() == 1


def test_the_access_tab_grants_a_team_and_a_person(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    team(personas.org, "ops")
    client = signed_in(personas.admin.user)
    page = client.get("/environments/acme/app/access").content.decode()
    assert '<option value="ops">ops</option>' in page
    client.post("/environments/acme/app/access/teams", {"team": "ops", "level": "write"})
    client.post("/environments/acme/app/access/users", {"username": "outsider", "level": "read"})
    assert set(Grant.objects.values_list("level", flat=True)) == {"write", "read"}
    client.post("/environments/acme/app/access/teams/ops/level", {"level": "admin"})
    assert Grant.objects.get(team__name="ops").level == Level.ADMIN
    client.post("/environments/acme/app/access/users/outsider/remove")
    assert not Grant.objects.filter(user__isnull=False).exists()
    missing = client.post(
        "/environments/acme/app/access/users", {"username": "ghost", "level": "read"}
    )
    assert "There is no user with that name." in missing.content.decode()
    assert client.post("/environments/acme/app/access/nonsense/ops/remove").status_code == 404


def test_readers_see_the_access_tab_and_change_nothing(personas):
    app = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    grant(app, Level.WRITE, team=team(personas.org, "ops"))
    client = signed_in(personas.reader.user)
    page = client.get("/environments/acme/app/access").content.decode()
    assert "ops" in page and "/access/teams/ops/remove" not in page
    assert client.post("/environments/acme/app/access/teams/ops/remove").status_code == 403
    assert Grant.objects.count() == 1


def test_a_member_level_of_none_shows_on_the_members_page(personas):
    Membership.objects.filter(user=personas.reader.user).update(level=MemberLevel.NONE)
    client = signed_in(personas.admin.user)
    page = client.get("/organizations/acme").content.decode()
    assert '<option value="none" selected>None</option>' in page
    response = client.post("/organizations/acme/members/reader/level", {"level": "read"})
    assert response.status_code == 302
    assert Membership.objects.get(user=personas.reader.user).level == MemberLevel.READ
