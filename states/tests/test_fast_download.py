"""The TFE v2 state download on the fast path (states.api.fast.download_state):
the stack's answers, for the requests it takes; every other one reaches the
stack as it came."""

import pytest
from django.db import connection
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts.tests.factories import run_token_for, token_for
from atlas.fastpath import FastPath
from atlas.handlers import FAST_ROUTES, api_middleware
from atlas.testing.clients import routing_api_client
from states import selectors
from states.api.v2 import DownloadView
from states.models import StateVersion
from states.tests.factories import environment, md5_b64, put_state, state_bytes

pytestmark = pytest.mark.django_db

STATE = "/api/v1/terraform/state/acme/network"


@pytest.fixture
def version(personas):
    network = environment("acme", "network")
    put_state(personas.writer.client, STATE, state_bytes(serial=1))
    put_state(personas.outsider.client, "/api/v1/terraform/state/outsider/mine", state_bytes())
    return StateVersion.objects.get(environment=network, serial=1)


def _path(version_id):
    return f"/api/v2/state-versions/sv-{version_id}/download"


def _answer(response):
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, sorted(response.items()), content


def _both(path, **headers):
    """The answers of the full web stack and of the path a token call takes."""
    full = APIClient().get(path, **headers)
    return _answer(full), _answer(routing_api_client().get(path, **headers))


def _unreachable(*args, **kwargs):
    raise AssertionError("the view was reached")


def _bearer(token, **more):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}", **more}


@pytest.mark.parametrize("persona", ["admin", "writer", "reader"])
@pytest.mark.parametrize(
    "accept", [None, "application/vnd.api+json", "application/json", "text/html"]
)
def test_a_readable_version_is_downloaded_on_the_fast_path(
    personas, version, persona, accept, monkeypatch
):
    monkeypatch.setattr(DownloadView, "get", _unreachable)
    headers = _bearer(getattr(personas, persona).token)
    if accept:
        headers["HTTP_ACCEPT"] = accept
    response = routing_api_client().get(_path(version.pk), **headers)
    assert response.status_code == 200
    assert response.content == state_bytes(serial=1)
    assert response["Content-MD5"] == md5_b64(state_bytes(serial=1))
    assert response["TFP-API-Version"] == "2.5"
    assert response["X-Frame-Options"] == "DENY" and "Set-Cookie" not in response


def test_its_answers_are_the_stacks_byte_for_byte(personas, version):
    reader = personas.reader.token
    for headers in (
        _bearer(reader),
        _bearer(reader, HTTP_ACCEPT="application/vnd.api+json"),
        {"HTTP_X_ATLAS_TOKEN": reader},
        _bearer(token_for(personas.reader.user, read_only=True)),
    ):
        full, fast = _both(_path(version.pk), **headers)
        assert full == fast
        assert full[0] == 200


def test_what_it_declines_is_the_stacks(personas, version):
    """Not found, not readable, a run's token, odd ids: the stack answers,
    and the fast path left the request as it came."""
    outsider = personas.outsider.token
    own_run = run_token_for(personas.writer.user, version.environment)
    cases = [
        (_path(version.pk), _bearer(outsider), 404),  # exists, not readable
        (_path(version.pk + 100), _bearer(personas.reader.token), 404),
        (_path(version.pk), _bearer(own_run), 404),  # not on a run token's allow-list
        (_path(version.pk), _bearer("garbage"), 401),
        (_path(f"0{version.pk}"), _bearer(personas.reader.token), 200),  # the same number
        ("/api/v2/state-versions/sv-x/download", _bearer(personas.reader.token), 404),
        (_path("\u0661"), _bearer(personas.reader.token), 404),  # not an ASCII digit
        (_path("9" * 19), _bearer(personas.reader.token), 404),
    ]
    fast = FastPath(FAST_ROUTES, api_middleware())
    for path, headers, status in cases:
        environ = RequestFactory().get(path, **headers).environ
        before = dict(environ)
        answered = fast.answer(environ)
        assert (answered is None) == (status != 200), path
        assert environ == before, path
        full, routed = _both(path, **headers)
        assert full == routed, path
        assert full[0] == status, path


def test_a_download_takes_two_queries_and_no_view(
    personas, version, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(DownloadView, "get", _unreachable)
    client = routing_api_client()
    headers = _bearer(personas.reader.token)
    client.get(_path(version.pk), **headers)  # last use, once a minute
    with django_assert_num_queries(2):  # the token with its user; the version with the privilege
        assert client.get(_path(version.pk), **headers).status_code == 200


@pytest.mark.parametrize("role", ["admin", "reader", "outsider"])
def test_the_compiled_version_lookup_finds_what_the_orm_finds(personas, version, role):
    user = getattr(personas, role).user
    assert selectors._compiled_query(selectors._version_queryset, connection) is not None
    readable = 0
    for version_id in StateVersion.objects.values_list("pk", flat=True):
        fast = selectors.readable_version(user, version_id)
        row = next(iter(selectors._version_queryset(user, version_id)), None)
        found = fast and tuple(getattr(fast, column) for column in selectors.HEAD_COLUMNS)
        assert found == row, (role, version_id)
        readable += row is not None
    assert readable == {"admin": 1, "reader": 1, "outsider": 1}[role]
