"""Who may call each endpoint of the http backend and of TFE v2, and how a
refusal reads: every endpoint against every kind of caller.

Callers: no token, a bad token (401); an outsider (404, as for what does
not exist); the organization's reader (403 on writes); the writer's
read-only token (403 on writes); a run token of the environment's run (it
reads and writes state through the http door, and is a stranger, 404,
everywhere else); the writer (403 on admin actions) and the admin.
/api/v2 answers errors as JSON:API
`{"errors": [{"status", "title", "detail"}]}`.
"""

import hashlib
import json

import pytest
from rest_framework.test import APIClient

from accounts.models import Level, Token
from accounts.tests.factories import token_for
from states.tests.factories import put_state, state_bytes

READ, WRITE, ADMIN = Level.READ, Level.WRITE, Level.ADMIN
STATE = "/api/v1/terraform/state/acme/network"
LOCK_INFO = {
    "ID": "lock-1",
    "Operation": "OperationTypeApply",
    "Info": "",
    "Who": "x@y",
    "Version": "1.6.6",
    "Created": "2026-12-01T10:00:00Z",
    "Path": "",
}
BODY = state_bytes(serial=9)


def v2(path):
    return f"/api/v2/{path}"


# (name, method, url with {ws}, body, needed level, door)
ENDPOINTS = [
    ("http read", "GET", STATE, None, READ, "http"),
    ("http write", "POST", STATE, BODY, WRITE, "http"),
    ("http LOCK", "LOCK", STATE, LOCK_INFO, WRITE, "http"),
    ("http UNLOCK (force)", "UNLOCK", STATE, None, ADMIN, "http"),
    ("gitlab lock", "POST", f"{STATE}/lock", LOCK_INFO, WRITE, "http"),
    ("gitlab unlock (force)", "DELETE", f"{STATE}/lock", None, ADMIN, "http"),
    ("organization", "GET", v2("organizations/acme"), None, READ, "v2"),
    ("entitlements", "GET", v2("organizations/acme/entitlement-set"), None, READ, "v2"),
    ("workspace list", "GET", v2("organizations/acme/workspaces"), None, READ, "v2"),
    (
        "workspace create",
        "POST",
        v2("organizations/acme/workspaces"),
        {"data": {"type": "workspaces", "attributes": {"name": "fresh"}}},
        WRITE,
        "v2",
    ),
    ("workspace by name", "GET", v2("organizations/acme/workspaces/network"), None, READ, "v2"),
    ("workspace", "GET", v2("workspaces/{ws}"), None, READ, "v2"),
    (
        "workspace version",
        "PATCH",
        v2("workspaces/{ws}"),
        {"data": {"type": "workspaces", "attributes": {"terraform-version": "1.6.6"}}},
        WRITE,
        "v2",
    ),
    (
        "workspace settings",
        "PATCH",
        v2("workspaces/{ws}"),
        {"data": {"type": "workspaces", "attributes": {"auto-apply": True}}},
        ADMIN,
        "v2",
    ),
    ("workspace delete", "DELETE", v2("workspaces/{ws}"), None, ADMIN, "v2"),
    ("lock", "POST", v2("workspaces/{ws}/actions/lock"), {"reason": "x"}, WRITE, "v2"),
    ("unlock", "POST", v2("workspaces/{ws}/actions/unlock"), None, WRITE, "v2"),
    ("force-unlock", "POST", v2("workspaces/{ws}/actions/force-unlock"), None, ADMIN, "v2"),
    ("vars", "GET", v2("workspaces/{ws}/vars"), None, WRITE, "v2"),
    ("current state version", "GET", v2("workspaces/{ws}/current-state-version"), None, READ, "v2"),
    (
        "current outputs",
        "GET",
        v2("workspaces/{ws}/current-state-version-outputs"),
        None,
        READ,
        "v2",
    ),
    (
        "state version create",
        "POST",
        v2("workspaces/{ws}/state-versions"),
        {
            "data": {
                "type": "state-versions",
                "attributes": {"serial": 9, "md5": hashlib.md5(BODY).hexdigest()},
            }
        },
        WRITE,
        "v2",
    ),
    ("state version", "GET", v2("state-versions/{sv}"), None, READ, "v2"),
    ("download", "GET", v2("state-versions/{sv}/download"), None, READ, "v2"),
    ("version outputs", "GET", v2("state-versions/{sv}/outputs"), None, READ, "v2"),
    ("one output", "GET", v2("state-version-outputs/wsout-{svn}-ip"), None, READ, "v2"),
    ("account details", "GET", v2("account/details"), None, None, "v2"),
]

CALLERS = ["anonymous", "bad token", "outsider", "reader", "read-only", "run", "writer", "admin"]


@pytest.fixture
def world(personas, network):
    response = put_state(personas.writer.client, STATE, state_bytes(serial=1, outputs={"ip": "x"}))
    assert response.status_code == 200
    run_token, text = _run_token(personas.writer.user, network)
    head = network.state.head
    return {
        "ws": f"ws-{network.pk}",
        "sv": f"sv-{head.pk}",
        "svn": head.pk,
        "tokens": {
            "bad token": "0000000000000000.atlasv1.not-a-real-token",
            "outsider": personas.outsider.token,
            "reader": personas.reader.token,
            "read-only": token_for(personas.writer.user, read_only=True),
            "run": text,
            "writer": personas.writer.token,
            "admin": personas.admin.token,
        },
        "run_token": run_token,
        "network": network,
    }


def _locked_by_someone_else(environment):
    from accounts.tests.factories import UserFactory
    from environments import services
    from environments.models import LockKind

    holder = UserFactory(username="holder")
    services.lock_environment(
        environment, holder, "", kind=LockKind.HTTP, lock_id="held", info=LOCK_INFO
    )


@pytest.fixture
def network(personas):
    from states.tests.factories import environment

    return environment("acme", "network")


def _run_token(user, environment):
    from accounts import tokens

    token, text = tokens.issue(user, kind=Token.Kind.RUN)
    Token.objects.filter(pk=token.pk).update(scope_environment_id=environment.pk)
    return token, text


# What a run's own token may do (accounts.privileges.run_token_allows): read
# and write state through the atlas and http doors; elsewhere it is a stranger.
RUN_TOKEN_ENDPOINTS = {"http read", "http write"}


def expected(caller, needed, name):
    if caller in ("anonymous", "bad token"):
        return 401
    if caller == "run" and name not in RUN_TOKEN_ENDPOINTS:
        return 404
    if needed is None:
        return "ok"
    if caller == "outsider":
        return 404
    level = {
        "reader": READ,
        "read-only": READ,
        "run": WRITE,  # its own environment's state
        "writer": WRITE,
        "admin": ADMIN,
    }[caller]
    order = [READ, WRITE, ADMIN]
    return "ok" if order.index(level) >= order.index(needed) else 403


def call(world, caller, method, url, body):
    client = APIClient()
    if caller != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world['tokens'][caller]}")
    url = url.format(**world)
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body else b""
    return client.generic(method, url, data, content_type="application/json")


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("name", "method", "url", "body", "needed", "door"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_every_new_endpoint_answers_each_caller_as_its_level_allows(
    world, caller, name, method, url, body, needed, door
):
    if "force" in name:
        _locked_by_someone_else(world["network"])
    response = call(world, caller, method, url, body)
    want = expected(caller, needed, name)
    if want == "ok":
        assert response.status_code not in (401, 403, 404), response.content
        return
    assert response.status_code == want, response.content
    errors = response.json()["errors"]
    if door == "v2":
        assert response["TFP-API-Version"] == "2.5"
        assert isinstance(errors, list) and len(errors) >= 1
        assert errors[0]["status"] == str(want)
        assert errors[0]["title"]
        assert errors[0]["detail"]
    else:
        assert isinstance(errors, dict) and errors["base"]
    if want == 401:
        assert "WWW-Authenticate" in response
