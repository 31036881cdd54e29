"""An environment's grants under /api/v1/environments/:ns/:name/access.

Readers of the environment see them; its admins give teams of the
organization or single users read, write or admin, and take it back.
"""

import pytest

from accounts.models import Grant, Level
from accounts.tests.factories import UserFactory, grant, team
from environments.tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db

ACCESS = "/api/v1/environments/acme/app/access"


@pytest.fixture
def app(personas):
    return EnvironmentFactory(namespace=personas.org.namespace, name="app")


def test_the_access_list_names_teams_and_users_with_their_levels(personas, app):
    grant(app, Level.WRITE, team=team(personas.org, "ops"))
    grant(app, Level.READ, user=UserFactory(username="carol"))
    response = personas.reader.client.get(ACCESS)
    assert response.status_code == 200
    assert response.json() == {
        "access": {
            "teams": [{"team": "ops", "level": "write"}],
            "users": [{"username": "carol", "level": "read"}],
        }
    }


def test_an_admin_grants_a_team_then_changes_its_level(personas, app):
    team(personas.org, "ops")
    client = personas.admin.client
    created = client.put(f"{ACCESS}/teams/OPS", {"access": {"level": "read"}}, format="json")
    assert created.status_code == 201
    assert created.json() == {"access": {"team": "ops", "level": "read"}}
    changed = client.put(
        f"{ACCESS}/teams/ops",
        "access[level]=admin",
        content_type="application/x-www-form-urlencoded",
    )
    assert changed.status_code == 200
    assert changed.json() == {"access": {"team": "ops", "level": "admin"}}
    assert list(Grant.objects.values_list("team__name", "level")) == [("ops", "admin")]


def test_an_admin_grants_a_person_outside_the_organization(personas, app):
    response = personas.admin.client.put(
        f"{ACCESS}/users/outsider", {"access": {"level": "write"}}, format="json"
    )
    assert response.status_code == 201
    assert response.json() == {"access": {"username": "outsider", "level": "write"}}
    assert personas.outsider.client.get("/api/v1/environments/acme/app").status_code == 200


def test_removing_a_grant_ends_the_access_it_gave(personas, app):
    grant(app, Level.READ, user=personas.outsider.user)
    assert personas.outsider.client.get("/api/v1/environments/acme/app").status_code == 200
    assert personas.admin.client.delete(f"{ACCESS}/users/outsider").status_code == 204
    assert personas.outsider.client.get("/api/v1/environments/acme/app").status_code == 404
    assert personas.admin.client.delete(f"{ACCESS}/users/outsider").status_code == 404


@pytest.mark.parametrize(
    ("url", "body", "expected", "errors"),
    [
        (f"{ACCESS}/teams/ops", {"access": {"level": "owner"}}, 422, {"level"}),
        (f"{ACCESS}/teams/ops", {"level": "read"}, 400, {"access"}),
        (f"{ACCESS}/teams/nope", {"access": {"level": "read"}}, 404, {"base"}),
        (f"{ACCESS}/users/ghost", {"access": {"level": "read"}}, 404, {"base"}),
        (f"{ACCESS}/teams/owners", {"access": {"level": "read"}}, 422, {"team"}),
    ],
)
def test_bad_grants_are_refused_and_change_nothing(personas, app, url, body, expected, errors):
    team(personas.org, "ops")
    response = personas.admin.client.put(url, body, format="json")
    assert response.status_code == expected
    assert set(response.json()["errors"]) == errors
    assert not Grant.objects.exists()


def test_a_team_of_another_organization_is_not_found(personas, app):
    from accounts.tests.factories import organization

    other = organization("globex", personas.admin.user)
    team(other, "ops")
    response = personas.admin.client.put(
        f"{ACCESS}/teams/ops", {"access": {"level": "read"}}, format="json"
    )
    assert response.status_code == 404
    assert not Grant.objects.exists()


def test_a_personal_environment_grants_users(personas):
    from accounts.models import Namespace

    EnvironmentFactory(namespace=Namespace.objects.get(name="writer"), name="mine")
    url = "/api/v1/environments/writer/mine/access/users/reader"
    response = personas.writer.client.put(url, {"access": {"level": "read"}}, format="json")
    assert response.status_code == 201
    assert personas.reader.client.get("/api/v1/environments/writer/mine").status_code == 200
    assert personas.outsider.client.get("/api/v1/environments/writer/mine").status_code == 404


def test_an_admin_grant_lets_a_collaborator_manage_the_access_list(personas, app):
    grant(app, Level.ADMIN, user=personas.outsider.user)
    response = personas.outsider.client.put(
        f"{ACCESS}/users/reader", {"access": {"level": "write"}}, format="json"
    )
    assert response.status_code == 201


def test_the_access_list_costs_the_same_queries_for_more_grants(
    personas, app, django_assert_num_queries
):
    personas.reader.client.get(ACCESS)  # the token's first use is recorded once
    # token, environment with level, grants
    with django_assert_num_queries(3):
        assert personas.reader.client.get(ACCESS).status_code == 200
    for index in range(5):
        grant(app, Level.READ, team=team(personas.org, f"t{index}"))
        grant(app, Level.READ, user=UserFactory())
    with django_assert_num_queries(3):
        response = personas.reader.client.get(ACCESS)
    assert len(response.json()["access"]["teams"]) == 5
