"""Who may do what: every environments endpoint for every persona, in one table.

Read needs read, changing variables and pushing need write, settings, lock
and delete need admin. No access is a 404 exactly like a missing
environment; a visible environment with too low a level is a 403; no token
is a 401. A read-only token of an admin may only read. A team grant gives
exactly its level on exactly its environment (`team_writer`, a member with
no default level; `other_team`'s grant is on another environment), and so
does a grant to one person outside the organization (`collaborator`, read).
"""

import pytest

from accounts.tests.factories import grantees, token_for
from conftest import api_client
from environments.models import Environment
from environments.tests.factories import ConfigurationVersionFactory, EnvironmentFactory

pytestmark = pytest.mark.django_db

ENV = "/api/v1/environments/acme/app"
CONF = "/api/v1/terraform/configurations/acme/app/versions"
PERSONAS = [
    "admin",
    "writer",
    "reader",
    "outsider",
    "anonymous",
    "read_only_admin",
    "team_writer",
    "collaborator",
    "other_team",
]

# (method, url, body, expected status per persona in PERSONAS order)
MATRIX = [
    ("get", "/api/v1/environments", None, [200, 200, 200, 200, 401, 200, 200, 200, 200]),
    (
        "post",
        "/api/v1/environments",
        {"environment": {"username": "acme", "name": "new"}},
        [201, 201, 403, 404, 401, 403, 403, 404, 403],
    ),
    ("get", ENV, None, [200, 200, 200, 404, 401, 200, 200, 200, 404]),
    (
        "patch",
        ENV,
        {"environment": {"auto_apply": True}},
        [200, 403, 403, 404, 401, 403, 403, 403, 404],
    ),
    ("delete", ENV, None, [204, 403, 403, 404, 401, 403, 403, 403, 404]),
    (
        "put",
        f"{ENV}/variables",
        {"variables": {"a": "b"}},
        [200, 200, 403, 404, 401, 403, 200, 403, 404],
    ),
    ("post", f"{ENV}/lock", {"reason": "why"}, [200, 403, 403, 404, 401, 403, 403, 403, 404]),
    ("post", f"{ENV}/unlock", {"force": True}, [200, 403, 403, 404, 401, 403, 403, 403, 404]),
    ("get", f"{ENV}/access", None, [200, 200, 200, 404, 401, 200, 200, 200, 404]),
    (
        "put",
        f"{ENV}/access/users/reader",
        {"access": {"level": "write"}},
        [201, 403, 403, 404, 401, 403, 403, 403, 404],
    ),
    ("get", f"{CONF}/latest", None, [200, 200, 200, 404, 401, 200, 200, 200, 404]),
    ("get", CONF, None, [200, 200, 200, 404, 401, 200, 200, 200, 404]),
    (
        "post",
        CONF,
        {"version": {"tf_vars": []}},
        [201, 201, 403, 404, 401, 403, 201, 403, 404],
    ),
    (
        "get",
        f"{CONF}/progress/{{secret}}",
        None,
        [200, 200, 200, 404, 401, 200, 200, 200, 404],
    ),
]
ROWS = [
    pytest.param(method, url, body, persona, expected[index], id=f"{method} {url} as {persona}")
    for method, url, body, expected in MATRIX
    for index, persona in enumerate(PERSONAS)
]


@pytest.fixture
def world(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    version = ConfigurationVersionFactory(environment=environment)
    # the unlock row needs a lock to release (the lock row removes it again)
    Environment.objects.filter(pk=environment.pk).update(locked=True, lock_reason="held")
    clients = {name: getattr(personas, name).client for name in PERSONAS[:4]}
    clients["anonymous"] = api_client()
    clients["read_only_admin"] = api_client(token_for(personas.admin.user, read_only=True))
    other = EnvironmentFactory(namespace=personas.org.namespace, name="other")
    for name, (_user, text) in grantees(personas.org, environment, other).items():
        clients[name] = api_client(text)
    return clients, version


def _lock_url_needs_no_lock(url, environment_id):
    if url.endswith("/lock"):
        Environment.objects.filter(pk=environment_id).update(locked=False)


@pytest.mark.parametrize(("method", "url", "body", "persona", "expected"), ROWS)
def test_permission_matrix(world, method, url, body, persona, expected):
    clients, version = world
    _lock_url_needs_no_lock(url, version.environment_id)
    url = url.format(secret=version.secret)
    response = getattr(clients[persona], method)(url, body, format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) == {"errors"}
    if expected == 404:
        assert response.json() == {"errors": {"base": ["Not found."]}}


@pytest.mark.parametrize(
    "persona",
    ["reader", "outsider", "anonymous", "read_only_admin", "collaborator", "other_team"],
)
def test_refused_writes_change_nothing(world, persona):
    clients, version = world
    client = clients[persona]
    client.put(f"{ENV}/variables", {"variables": {"a": "b"}}, format="json")
    client.patch(ENV, {"environment": {"auto_apply": True}}, format="json")
    client.post(CONF, {"version": {}}, format="json")
    client.delete(ENV)
    environment = Environment.objects.get(pk=version.environment_id)
    assert not environment.variables.exists()
    assert environment.auto_apply is False
    assert environment.configuration_versions.count() == 1


def test_no_access_looks_exactly_like_a_missing_environment(world):
    clients, _version = world
    outsider = clients["outsider"]
    hidden = outsider.get(ENV)
    missing = outsider.get("/api/v1/environments/acme/missing")
    nowhere = outsider.get("/api/v1/environments/nobody/missing")
    assert hidden.status_code == missing.status_code == nowhere.status_code == 404
    assert hidden.content == missing.content == nowhere.content
