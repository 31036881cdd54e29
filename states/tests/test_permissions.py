"""Who may do what to state: one table of (role, method, url) -> status.

Readers read and list, writers write, admins clear and roll back; anyone
else gets 404 on every URL, version URLs included, as if nothing existed.
Grants count exactly on their environment: a team granted write writes
acme/network (and nothing else of acme), a collaborator granted read reads
it, and a member whose team is granted another environment sees nothing.
"""

import pytest

from accounts import tokens
from accounts.models import Token
from accounts.tests.factories import grantees
from conftest import api_client

from .factories import environment, put_state, state_bytes

BASE = "/api/v1/terraform/state/acme/network"


@pytest.fixture
def stored(personas, network):
    for serial in (1, 2):
        assert put_state(personas.admin.client, BASE, state_bytes(serial=serial)).status_code == 200
    return network


def call(client, method, path):
    if method == "PUT":
        return put_state(client, path, state_bytes(serial=3, outputs={"new": "x"}))
    return getattr(client, method.lower())(path)


OTHER = "/api/v1/terraform/state/acme/other"
MATRIX = [
    # method, path, admin, writer, reader, outsider, team_writer, collaborator, other_team
    ("GET", BASE, 200, 200, 200, 404, 200, 200, 404),
    # A member without a default level may not create environments: 403,
    # for a hidden environment and a missing one alike.
    ("PUT", BASE, 200, 200, 403, 404, 200, 403, 403),
    ("DELETE", BASE, 200, 403, 403, 404, 403, 403, 404),
    ("GET", f"{BASE}/versions", 200, 200, 200, 404, 200, 200, 404),
    ("GET", f"{BASE}/versions/1", 200, 200, 200, 404, 200, 200, 404),
    ("POST", f"{BASE}/versions/1/rollback", 200, 403, 403, 404, 403, 403, 404),
    # The other environment: only its own grant counts there.
    ("GET", OTHER, 404, 404, 404, 404, 404, 404, 404),
    ("PUT", OTHER, 200, 200, 403, 404, 403, 404, 200),
    # What does not exist looks the same to everyone who may not see it.
    ("GET", f"{BASE}/versions/99", 404, 404, 404, 404, 404, 404, 404),
    ("POST", f"{BASE}/versions/99/rollback", 404, 403, 403, 404, 403, 403, 404),
    ("GET", "/api/v1/terraform/state/acme/missing", 404, 404, 404, 404, 404, 404, 404),
    ("GET", "/api/v1/terraform/state/acme/missing/versions", 404, 404, 404, 404, 404, 404, 404),
    ("PUT", "/api/v1/terraform/state/acme/missing", 200, 200, 403, 404, 403, 404, 403),
    ("GET", "/api/v1/terraform/state/nobody/network", 404, 404, 404, 404, 404, 404, 404),
    ("PUT", "/api/v1/terraform/state/nobody/network", 404, 404, 404, 404, 404, 404, 404),
    ("GET", "/api/v1/terraform/state", 200, 200, 200, 200, 200, 200, 200),
]
ROLES = ["admin", "writer", "reader", "outsider", "team_writer", "collaborator", "other_team"]


@pytest.fixture
def clients(personas, stored):
    people = {role: getattr(personas, role).client for role in ROLES[:4]}
    other = environment("acme", "other")
    for name, (_user, text) in grantees(personas.org, stored, other).items():
        people[name] = api_client(text)
    return people


@pytest.mark.parametrize(
    ("method", "path", "role", "expected"),
    [
        pytest.param(method, path, role, statuses[index], id=f"{role}-{method}-{path}")
        for method, path, *statuses in MATRIX
        for index, role in enumerate(ROLES)
    ],
)
def test_permission_matrix(clients, method, path, role, expected):
    response = call(clients[role], method, path)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert "errors" in response.json()


@pytest.mark.parametrize(("method", "path"), [row[:2] for row in MATRIX])
def test_without_a_token_everything_is_401(stored, anonymous, method, path):
    assert call(anonymous, method, path).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", BASE, 200),
        ("GET", f"{BASE}/versions/1", 200),
        ("PUT", BASE, 403),
        ("DELETE", BASE, 403),
        ("POST", f"{BASE}/versions/1/rollback", 403),
    ],
)
def test_a_read_only_admin_token_only_reads(personas, stored, method, path, expected):
    _token, text = tokens.issue(personas.admin.user, read_only=True)
    assert call(api_client(text), method, path).status_code == expected


def test_a_revoked_token_is_401(personas, stored):
    token, text = tokens.issue(personas.admin.user)
    tokens.revoke(token)
    assert api_client(text).get(BASE).status_code == 401


def test_a_run_token_writes_its_own_environment_and_only_reads_others(personas, stored):
    token, text = tokens.issue(personas.writer.user, kind=Token.Kind.RUN)
    token.scope_environment_id = stored.pk
    token.save(update_fields=["scope_environment_id"])
    client = api_client(text)
    assert put_state(client, BASE, state_bytes(serial=3, outputs={"run": "1"})).status_code == 200
    other = "/api/v1/terraform/state/acme/other"
    environment("acme", "other")
    assert put_state(client, other, state_bytes(serial=1)).status_code == 404
    assert put_state(client, "/api/v1/terraform/state/acme/new", state_bytes()).status_code == 404
    assert client.get(BASE).status_code == 200
    assert client.delete(BASE).status_code == 404
