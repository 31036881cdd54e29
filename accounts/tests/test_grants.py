"""A grant gives exactly its level on exactly its environment, through every
door: the environments, state and runs API, the web pages, run tokens and
the lists; taking a user out of a team ends it for their tokens and their
runs' tokens at once. The API matrices of each app cover every endpoint;
these tests follow one person through all the doors.
"""

import pytest
from django.test import Client

from accounts.models import Level, Token
from accounts.tests.factories import (
    UserFactory,
    grant,
    member,
    run_token_for,
    team,
    token_for,
)
from conftest import api_client
from runs.models import Run
from runs.tests.factories import finished_version, notification
from states.tests.factories import put_state, state_bytes

from .factories import PASSWORD

pytestmark = pytest.mark.django_db

APP = "/api/v1/environments/acme/app"
STATE = "/api/v1/terraform/state/acme/app"


@pytest.fixture
def tess(personas):
    """A member with no default level, in team `ops`, which may write acme/app."""
    from environments.tests.factories import EnvironmentFactory

    user = UserFactory(username="tess")
    member(personas.org, user, "none")
    app = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    other = EnvironmentFactory(namespace=personas.org.namespace, name="other")
    ops = team(personas.org, "ops", user)
    grant(app, Level.WRITE, team=ops)
    return type("Tess", (), {"user": user, "app": app, "other": other, "team": ops})


def test_a_team_grant_writes_state_and_variables_and_queues_runs_on_its_environment(tess):
    client = api_client(token_for(tess.user))
    assert put_state(client, STATE, state_bytes(serial=1)).status_code == 200
    assert (
        client.put(f"{APP}/variables", {"variables": {"a": "b"}}, format="json").status_code == 200
    )
    finished_version(tess.app)
    response = client.post(f"{APP}/plan", {}, format="json")
    assert response.status_code == 200
    run = Run.objects.get(environment=tess.app)
    assert client.get(f"/api/v1/runs/{run.pk}").status_code == 200
    assert client.post(f"/api/v1/runs/{run.pk}/actions/cancel").status_code == 200
    # write, not admin
    assert client.delete(STATE).status_code == 403
    assert (
        client.patch(APP, {"environment": {"auto_apply": True}}, format="json").status_code == 403
    )


def test_a_team_grant_gives_nothing_on_other_environments(tess):
    client = api_client(token_for(tess.user))
    finished_version(tess.other)
    for method, url in [
        ("get", "/api/v1/environments/acme/other"),
        ("get", "/api/v1/environments/acme/other/runs"),
        ("post", "/api/v1/environments/acme/other/plan"),
        ("get", "/api/v1/terraform/state/acme/other/versions"),
    ]:
        assert getattr(client, method)(url).status_code == 404, url


def test_the_lists_show_granted_environments_only(tess, personas):
    client = api_client(token_for(tess.user))
    put_state(personas.admin.client, STATE, state_bytes(serial=1))
    put_state(personas.admin.client, "/api/v1/terraform/state/acme/other", state_bytes(serial=1))
    environments = client.get("/api/v1/environments").json()
    assert [e["name"] for e in environments["environments"]] == ["app"]
    assert environments["meta"]["total"] == 1
    states = client.get("/api/v1/terraform/state").json()
    assert [s["environment"]["name"] for s in states["states"]] == ["app"]
    assert states["meta"]["total"] == 1
    assert client.get("/api/v1/user/acme").status_code == 200


def signed_in(user):
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_the_web_pages_follow_the_grant(tess):
    client = signed_in(tess.user)
    assert client.get("/environments/acme/app").status_code == 200
    assert client.get("/environments/acme/app/access").status_code == 200
    response = client.post(
        "/environments/acme/app/variables/new",
        {"key": "region", "category": "terraform", "value": "eu"},
    )
    assert response.status_code == 302
    assert tess.app.variables.filter(key="region").exists()
    assert client.get("/environments/acme/other").status_code == 404
    assert (
        client.post("/environments/acme/app/settings/auto-apply", {"auto_apply": "on"}).status_code
        == 403
    )
    page = client.get("/environments").content.decode()
    assert "/environments/acme/app" in page
    assert "/environments/acme/other" not in page


def test_removing_a_user_from_a_team_stops_their_tokens_and_their_runs_tokens_at_once(
    tess, personas
):
    user_client = api_client(token_for(tess.user))
    run_client = api_client(run_token_for(tess.user, tess.app))
    assert put_state(user_client, STATE, state_bytes(serial=1)).status_code == 200
    assert put_state(run_client, STATE, state_bytes(serial=2)).status_code == 200

    response = personas.admin.client.delete("/api/v1/organizations/acme/teams/ops/members/tess")
    assert response.status_code == 204

    # Still a member of acme, with no level of its own: writing there is a
    # 403 (as for a name that does not exist), reading finds nothing; the
    # run's token is outside its allow-list, a stranger.
    assert put_state(user_client, STATE, state_bytes(serial=3)).status_code == 403
    assert put_state(run_client, STATE, state_bytes(serial=3)).status_code == 404
    assert user_client.get(STATE).status_code == 404
    assert run_client.get(STATE).status_code == 404
    assert tess.app.state.head.serial == 2
    # The tokens themselves still work where their user still may go.
    assert user_client.get("/api/v1/authenticate").status_code == 200


def test_a_run_token_stops_writing_when_its_user_drops_to_read(tess):
    run_client = api_client(run_token_for(tess.user, tess.app))
    assert put_state(run_client, STATE, state_bytes(serial=1)).status_code == 200
    tess.team.grants.update(level=Level.READ)
    # Outside the run token's allow-list now: answered as a stranger.
    assert put_state(run_client, STATE, state_bytes(serial=2)).status_code == 404
    assert run_client.get(STATE).status_code == 200


def test_a_run_token_never_writes_more_than_its_own_environment(tess, personas):
    grant(tess.other, Level.ADMIN, user=tess.user)
    run_client = api_client(run_token_for(tess.user, tess.app))
    other = "/api/v1/terraform/state/acme/other"
    assert put_state(run_client, other, state_bytes(serial=1)).status_code == 404
    assert put_state(api_client(token_for(tess.user)), other, state_bytes()).status_code == 200
    assert Token.objects.filter(kind=Token.Kind.RUN).count() == 1


def test_the_highest_grant_wins_and_grants_never_lower_a_default(tess, personas):
    grant(tess.app, Level.ADMIN, user=tess.user)
    client = api_client(token_for(tess.user))
    assert (
        client.patch(APP, {"environment": {"auto_apply": True}}, format="json").status_code == 200
    )
    grant(tess.app, Level.READ, user=personas.writer.user)
    assert (
        personas.writer.client.put(
            f"{APP}/variables", {"variables": {"a": "b"}}, format="json"
        ).status_code
        == 200
    )


def test_notification_emails_reach_people_with_a_grant_while_it_lasts(tess):
    from runs.notifications.channels import recipient_addresses

    tess.user.email = "tess@example.com"
    tess.user.save()
    configuration, _secret = notification(tess.app, kind="email", recipients=["tess"])
    assert recipient_addresses(configuration) == ["tess@example.com"]
    tess.team.memberships.all().delete()
    assert recipient_addresses(configuration) == []


@pytest.mark.parametrize(
    "url",
    ["/api/v1/environments", "/api/v1/terraform/state"],
)
def test_lists_cost_the_same_queries_for_more_grants(
    tess, personas, url, django_assert_num_queries
):
    from environments.tests.factories import EnvironmentFactory

    client = api_client(token_for(tess.user))
    put_state(personas.admin.client, STATE, state_bytes(serial=1))
    client.get(url)  # the token's first use is recorded once
    with django_assert_num_queries(3):  # token, count, page
        client.get(url)
    for index in range(5):
        environment = EnvironmentFactory(namespace=personas.org.namespace, name=f"more{index}")
        grant(environment, Level.READ, team=team(personas.org, f"t{index}", tess.user))
        grant(environment, Level.READ, user=tess.user)
        put_state(personas.admin.client, f"/api/v1/terraform/state/acme/more{index}", state_bytes())
    with django_assert_num_queries(3):
        response = client.get(url)
    assert response.json()["meta"]["total"] == 6


def bearer(text):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    return client


def test_the_http_backend_door_follows_the_grant(tess):
    from states.tests.factories import md5_b64

    client = bearer(token_for(tess.user))
    body = state_bytes(serial=1)
    response = client.post(
        STATE, body, content_type="application/json", HTTP_CONTENT_MD5=md5_b64(body)
    )
    assert response.status_code == 200
    assert client.get(STATE).status_code == 200
    assert client.get("/api/v1/terraform/state/acme/other").status_code == 404


def test_the_tfe_door_lists_and_opens_exactly_the_granted_workspaces(tess, personas):
    client = bearer(token_for(tess.user))
    assert client.get("/api/v2/organizations/acme").status_code == 200
    assert client.get("/api/v2/organizations/acme/entitlement-set").status_code == 200
    listed = client.get("/api/v2/organizations/acme/workspaces").json()
    assert [w["attributes"]["name"] for w in listed["data"]] == ["app"]
    permissions = listed["data"][0]["attributes"]["permissions"]
    assert permissions["can-create-state-versions"] is True
    assert permissions["can-update"] is False
    assert client.get("/api/v2/organizations/acme/workspaces/app").status_code == 200
    assert client.get("/api/v2/organizations/acme/workspaces/other").status_code == 404
    assert client.get(f"/api/v2/workspaces/ws-{tess.other.pk}").status_code == 404
    # Creating workspaces needs write on the organization itself.
    created = client.post(
        "/api/v2/organizations/acme/workspaces",
        {"data": {"type": "workspaces", "attributes": {"name": "new"}}},
        format="json",
    )
    assert created.status_code == 403


def test_a_collaborator_outside_the_organization_sees_it_through_the_tfe_door(tess, personas):
    grant(tess.app, Level.READ, user=personas.outsider.user)
    client = bearer(personas.outsider.token)
    assert client.get("/api/v2/organizations/acme").status_code == 200
    listed = client.get("/api/v2/organizations/acme/workspaces").json()
    assert [w["attributes"]["name"] for w in listed["data"]] == ["app"]
    stranger = bearer(token_for(UserFactory(username="stranger")))
    assert stranger.get("/api/v2/organizations/acme").status_code == 404
    assert stranger.get("/api/v2/organizations/acme/workspaces").status_code == 404
