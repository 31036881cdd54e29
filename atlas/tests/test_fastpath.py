"""The fast path (atlas.fastpath) answers exactly what the full stack answers,
and only where it may: every other request reaches the stack untouched."""

import base64
import logging
from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import AuthFailureCount, Token
from accounts.tests.factories import run_token_for, token_for
from atlas.fastpath import REVIEWED, FastPath
from atlas.handlers import FAST_ROUTES, AtlasWSGIApplication, api_middleware
from atlas.testing.clients import routing_api_client
from states.api.views import StateView
from states.models import StateVersion
from states.tests.factories import environment, md5_b64, put_state, state_bytes

pytestmark = pytest.mark.django_db

STATE = "/api/v1/terraform/state/acme/network"


@pytest.fixture
def network(personas):
    network = environment("acme", "network")
    put_state(personas.writer.client, STATE, state_bytes(serial=1))
    return network


def _answer(response):
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, sorted(response.items()), content


def _both(method, path, **extra):
    """The answers of the full web stack and of the path a token call takes."""
    AuthFailureCount.objects.all().delete()
    full = _answer(getattr(APIClient(), method)(path, **extra))
    AuthFailureCount.objects.all().delete()
    fast = _answer(getattr(routing_api_client(), method)(path, **extra))
    return full, fast


def _unreachable(*args, **kwargs):
    raise AssertionError("the view was reached")


@pytest.fixture
def without_the_view(monkeypatch):
    """The view fails if it is reached: an answer proves the fast path gave it."""
    monkeypatch.setattr(StateView, "get", _unreachable)


def _basic(username, token):
    return "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()


def test_the_fast_path_is_on_with_the_projects_middleware():
    assert FastPath(FAST_ROUTES, api_middleware()).enabled
    assert api_middleware() == list(REVIEWED)


def test_a_middleware_it_has_not_reviewed_turns_it_off(personas, network, caplog):
    caplog.set_level(logging.WARNING, logger="atlas.fastpath")
    stack = [*api_middleware(), "django.middleware.gzip.GZipMiddleware"]
    fast = FastPath(FAST_ROUTES, stack)
    assert not fast.enabled
    assert "The fast path is off" in caplog.text
    environ = RequestFactory().get(STATE, HTTP_X_ATLAS_TOKEN=personas.writer.token).environ
    assert fast.match(environ) is None and fast.answer(environ) is None
    assert FastPath(FAST_ROUTES, api_middleware()[1:]).enabled is False  # one left out


def _headers(form, personas):
    writer, reader = personas.writer.token, personas.reader.token
    return {
        "atlas": {"HTTP_X_ATLAS_TOKEN": writer},
        "bearer": {"HTTP_AUTHORIZATION": f"Bearer {writer}"},
        "basic": {"HTTP_AUTHORIZATION": _basic("writer", writer)},
        "accept-json": {"HTTP_X_ATLAS_TOKEN": reader, "HTTP_ACCEPT": "application/json"},
        "accept-any": {"HTTP_X_ATLAS_TOKEN": reader, "HTTP_ACCEPT": "text/html, */*"},
        "read-only": {"HTTP_X_ATLAS_TOKEN": token_for(personas.reader.user, read_only=True)},
    }[form]


@pytest.mark.parametrize(
    "form", ["atlas", "bearer", "basic", "accept-json", "accept-any", "read-only"]
)
@pytest.mark.parametrize("query", ["", "?atlas_run_id=", "?atlas_run_id=run-7Vx"])
def test_a_readable_head_is_answered_by_the_fast_path(
    personas, network, form, query, without_the_view
):
    response = routing_api_client().get(STATE + query, **_headers(form, personas))
    assert response.status_code == 200
    assert response.content == state_bytes(serial=1)
    assert response["Content-MD5"] == md5_b64(state_bytes(serial=1))
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response and "Set-Cookie" not in response
    assert response["Allow"] == "GET, POST, PUT, DELETE, HEAD, OPTIONS, LOCK, UNLOCK"


def test_its_answers_are_the_stacks_byte_for_byte(personas, network):
    for form in ("atlas", "bearer", "basic", "accept-json", "accept-any"):
        full, fast = _both("get", STATE, **_headers(form, personas))
        assert full == fast, form
        assert full[0] == 200


@pytest.mark.parametrize(
    ("path", "persona", "status"),
    [
        ("/api/v1/terraform/state/acme/missing", "writer", 404),  # Terraform's first read
        ("/api/v1/terraform/state/nobody/network", "writer", 404),
        (STATE, "outsider", 404),  # exists, not readable: the same 404
        ("/api/v1/terraform/state/ACME/Network", "reader", 200),  # names ignore case
    ],
)
def test_a_valid_token_is_answered_by_the_fast_path_found_or_not(
    personas, network, path, persona, status, caplog, without_the_view
):
    token = getattr(personas, persona).token
    caplog.set_level(logging.WARNING, logger="django.request")
    response = routing_api_client().get(path, HTTP_X_ATLAS_TOKEN=token)
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"errors": {"base": ["Not found."]}}
        assert f"Not Found: {path}" in caplog.text  # logged as Django logs a 404


def test_its_404_is_the_stacks(personas, network):
    cases = (
        ("writer", "/api/v1/terraform/state/acme/missing"),
        ("outsider", STATE),
        # Hostile names reach no other environment, on either path.
        ("outsider", "/api/v1/terraform/state/acme/.."),
        ("outsider", "/api/v1/terraform/state/acme%2Fnetwork/x"),
        ("outsider", "/api/v1/terraform/state/outsider/..%2F..%2Facme%2Fnetwork"),
        ("outsider", "/api/v1/terraform/state/ACME/NETWORK"),
    )
    for persona, path in cases:
        full, fast = _both("get", path, HTTP_X_ATLAS_TOKEN=getattr(personas, persona).token)
        assert full == fast
        assert full[0] == 404


def test_the_head_takes_two_queries_and_no_view(
    personas, network, django_assert_num_queries, without_the_view
):
    client = routing_api_client()
    client.get(STATE, HTTP_X_ATLAS_TOKEN=personas.reader.token)  # last use, once a minute
    with django_assert_num_queries(2):  # the token with its user; the head with the privilege
        assert client.get(STATE, HTTP_X_ATLAS_TOKEN=personas.reader.token).status_code == 200
    with django_assert_num_queries(2):
        missing = client.get(
            "/api/v1/terraform/state/acme/x", HTTP_X_ATLAS_TOKEN=personas.reader.token
        )
        assert missing.status_code == 404


def _refusals(personas, network):
    writer = personas.writer.token
    revoked = token_for(personas.writer.user)
    tokens.revoke(Token.objects.get(public_id=tokens.parse(revoked).public_id))
    expired = token_for(personas.writer.user, expires_at=timezone.now() + timedelta(days=1))
    Token.objects.filter(public_id=tokens.parse(expired).public_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    return [
        # (what it is, path, headers, the stack's status)
        ("no token", STATE, {}, 401),
        ("garbage", STATE, {"HTTP_X_ATLAS_TOKEN": "garbage"}, 401),
        ("revoked", STATE, {"HTTP_X_ATLAS_TOKEN": revoked}, 401),
        ("expired", STATE, {"HTTP_X_ATLAS_TOKEN": expired}, 401),
        ("basic, another name", STATE, {"HTTP_AUTHORIZATION": _basic("reader", writer)}, 401),
        ("another scheme", STATE, {"HTTP_AUTHORIZATION": f"Token {writer}"}, 401),
        ("token in the query", STATE + "?access_token=x", {"HTTP_X_ATLAS_TOKEN": writer}, 400),
        ("NUL in the query", STATE + "?atlas_run_id=%00", {"HTTP_X_ATLAS_TOKEN": writer}, 400),
        (
            "a long run id",
            STATE + "?atlas_run_id=" + "r" * 129,
            {"HTTP_X_ATLAS_TOKEN": writer},
            200,
        ),
        ("another parameter", STATE + "?format=json", {"HTTP_X_ATLAS_TOKEN": writer}, 200),
        ("NUL in the path", STATE + "%00", {"HTTP_X_ATLAS_TOKEN": writer}, 400),
        ("a trailing slash", STATE + "/", {"HTTP_X_ATLAS_TOKEN": writer}, 404),
        ("HTML only", STATE, {"HTTP_X_ATLAS_TOKEN": writer, "HTTP_ACCEPT": "text/html"}, 406),
        (
            "JSON with parameters",
            STATE,
            {"HTTP_X_ATLAS_TOKEN": writer, "HTTP_ACCEPT": "application/json; indent=2"},
            200,
        ),
        ("a bad Host", STATE, {"HTTP_X_ATLAS_TOKEN": writer, "HTTP_HOST": "evil.example"}, 400),
    ]


def test_what_it_declines_reaches_the_stack_as_it_came(personas, network, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    fast = FastPath(FAST_ROUTES, api_middleware())
    for what, path, headers, status in _refusals(personas, network):
        environ = RequestFactory().get(path, **headers).environ
        before = dict(environ)
        assert fast.answer(environ) is None, what
        assert environ == before, what  # untouched for the stack
        full, answered = _both("get", path, **headers)
        assert full == answered, what
        assert full[0] == status, what


def test_a_run_token_reads_what_its_queuer_may_read_as_through_the_stack(
    personas, network, monkeypatch
):
    """A run's token reads its own state and any its queuer may read now
    (terraform_remote_state), nothing else: the allow-list's READ_STATE
    (accounts.privileges.run_token_allows), answered alike on both paths."""
    other = environment("acme", "other")
    put_state(personas.writer.client, "/api/v1/terraform/state/acme/other", state_bytes(serial=3))
    own = run_token_for(personas.writer.user, network)
    strangers = run_token_for(personas.outsider.user, environment("outsider", "mine"))
    cases = [
        (own, STATE, 200),
        (own, "/api/v1/terraform/state/acme/other", 200),
        (own, "/api/v1/terraform/state/acme/missing", 404),
        (strangers, STATE, 404),
    ]
    for text, path, status in cases:
        full, fast = _both("get", path, HTTP_X_ATLAS_TOKEN=text)
        assert full == fast, (path, status)
        assert full[0] == status, path
    assert other.pk  # the second environment exists: its 200 is a read, not a create
    # The fast path gave those answers itself.
    monkeypatch.setattr(StateView, "get", _unreachable)
    assert routing_api_client().get(STATE, HTTP_X_ATLAS_TOKEN=own).status_code == 200
    # The queuer leaves the organization: their run can read no more of it.
    personas.org.memberships.filter(user=personas.writer.user).delete()
    assert routing_api_client().get(STATE, HTTP_X_ATLAS_TOKEN=own).status_code == 404


def test_failures_are_counted_once_by_the_stack(personas, network, settings):
    settings.ATLAS_AUTH_FAILURE_LIMIT = 2
    client = routing_api_client()
    statuses = [
        client.get(STATE, HTTP_X_ATLAS_TOKEN="AAAAAAAAAAAAAAAA.atlasv1.nope").status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    assert AuthFailureCount.objects.get().failures == 3


def test_https_headers_and_redirects_are_the_security_middlewares(personas, network, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    full, fast = _both("get", STATE, secure=True, HTTP_X_ATLAS_TOKEN=personas.writer.token)
    assert full == fast
    assert dict(fast[1])["Strict-Transport-Security"] == "max-age=3600"
    settings.SECURE_SSL_REDIRECT = True
    full, fast = _both("get", STATE, HTTP_X_ATLAS_TOKEN=personas.writer.token)
    assert full == fast
    assert fast[0] == 301


def test_a_large_state_streams_from_the_fast_path(personas, network, without_the_view):
    body = state_bytes(serial=2, outputs={f"o{i}": "x" * 1000 for i in range(400)})
    assert len(body) > 256 * 1024  # above states.responses.WHOLE_BELOW
    put_state(personas.writer.client, STATE, body)
    response = routing_api_client().get(STATE, HTTP_X_ATLAS_TOKEN=personas.reader.token)
    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content) == body
    assert response["Content-Length"] == str(len(body))


def test_a_damaged_blob_is_the_stacks_500(personas, network, isolated_data):
    version = StateVersion.objects.get(environment=network, serial=1)
    path = isolated_data.blobs / version.blob_name
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    client = routing_api_client()
    client.raise_request_exception = False
    response = client.get(STATE, HTTP_X_ATLAS_TOKEN=personas.writer.token)
    assert response.status_code == 500
    assert response.json() == {"errors": {"base": ["Internal server error."]}}


@pytest.mark.django_db(transaction=True)
def test_the_wsgi_application_serves_it_and_falls_back(personas, without_the_view):
    environment("acme", "network")
    put_state(personas.writer.client, STATE, state_bytes(serial=1))
    application = AtlasWSGIApplication(WSGIHandler())

    def call(**headers):
        environ = RequestFactory().get(STATE, **headers).environ
        started = []
        body = application(environ, lambda status, headers: started.append((status, headers)))
        try:
            content = b"".join(body)
        finally:
            body.close()
        return started[0][0], dict(started[0][1]), content

    status, headers, content = call(HTTP_X_ATLAS_TOKEN=personas.reader.token)
    assert status == "200 OK" and content == state_bytes(serial=1)
    assert headers["Content-MD5"] == md5_b64(content) and headers["X-Frame-Options"] == "DENY"
    status, headers, content = call(HTTP_X_ATLAS_TOKEN="garbage")
    assert status == "401 Unauthorized"
    assert headers["WWW-Authenticate"] == 'X-Atlas-Token realm="api"'
