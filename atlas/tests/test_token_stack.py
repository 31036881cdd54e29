"""The token API stack (atlas.handlers) answers exactly what the full stack
answers: the same statuses, headers and bodies, refusals included."""

import base64

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthFailureCount
from accounts.tests.factories import token_for
from atlas import handlers
from atlas.testing.clients import RoutingClientHandler, routing_api_client
from states.tests.factories import environment, md5_b64, state_bytes

pytestmark = pytest.mark.django_db

STATE = "/api/v1/terraform/state/acme/network"


def test_the_stack_keeps_every_guard_and_header_and_drops_the_webs_own(settings):
    stack = handlers.api_middleware()
    assert stack == [path for path in settings.MIDDLEWARE if path in stack]  # same order
    for kept in (
        "atlas.middleware.DatabaseUnavailableMiddleware",
        "atlas.middleware.TrustedProxyMiddleware",
        "atlas.api.jsonapi.VersionHeaderMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "atlas.middleware.CSPMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "atlas.middleware.QueryStringTokenMiddleware",
        "atlas.middleware.HostileTextMiddleware",
        "atlas.middleware.BodyLimitMiddleware",
        "django.middleware.common.CommonMiddleware",
        "accounts.middleware.RequestContextMiddleware",
    ):
        assert kept in stack
    for dropped in (
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ):
        assert dropped in settings.MIDDLEWARE and dropped not in stack


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"PATH_INFO": "/api/v1/user", "HTTP_X_ATLAS_TOKEN": "x"}, True),
        ({"PATH_INFO": "/api/v2/ping", "HTTP_AUTHORIZATION": "Bearer x"}, True),
        ({"PATH_INFO": "/api/v1/user"}, False),  # a browser's own API calls: session, CSRF
        ({"PATH_INFO": "/environments", "HTTP_X_ATLAS_TOKEN": "x"}, False),
        ({"PATH_INFO": "/apix", "HTTP_AUTHORIZATION": "Basic x"}, False),
    ],
)
def test_only_api_calls_with_a_token_take_it(environ, expected):
    assert handlers.carries_token(environ) is expected


def _answers(client, personas):
    """Status, headers and body of a series of requests, on a fresh throttle."""
    AuthFailureCount.objects.all().delete()
    writer = personas.writer.token
    read_only = personas.read_only_token
    basic = base64.b64encode(f"writer:{writer}".encode()).decode()
    wrong_user = base64.b64encode(f"reader:{writer}".encode()).decode()
    head = state_bytes(serial=1)
    stale = state_bytes(serial=0)
    requests = [
        ("put", STATE, {"HTTP_X_ATLAS_TOKEN": writer, "HTTP_CONTENT_MD5": md5_b64(head)}, head),
        ("get", STATE, {"HTTP_X_ATLAS_TOKEN": writer}, None),
        ("get", STATE, {"HTTP_AUTHORIZATION": f"Basic {basic}"}, None),
        ("get", STATE, {"HTTP_AUTHORIZATION": f"Basic {wrong_user}"}, None),
        ("get", STATE, {"HTTP_AUTHORIZATION": f"Bearer {writer}"}, None),
        ("get", "/api/v1/terraform/state/acme/missing", {"HTTP_X_ATLAS_TOKEN": writer}, None),
        ("put", STATE, {"HTTP_X_ATLAS_TOKEN": writer}, stale),
        ("put", STATE, {"HTTP_X_ATLAS_TOKEN": read_only}, head),
        ("put", STATE, {"HTTP_X_ATLAS_TOKEN": writer, "HTTP_CONTENT_MD5": "bad"}, head),
        ("get", "/api/v1/user", {"HTTP_X_ATLAS_TOKEN": writer}, None),
        ("get", "/api/v1/user?access_token=x", {"HTTP_X_ATLAS_TOKEN": writer}, None),
        ("get", "/api/v1/environments?username=%00", {"HTTP_X_ATLAS_TOKEN": writer}, None),
        ("get", "/api/v1/terraform/state/acme/a%00b", {"HTTP_X_ATLAS_TOKEN": writer}, None),
        ("post", "/api/v1/environments", {"HTTP_X_ATLAS_TOKEN": writer}, b"x" * 2048),
        ("get", "/api/v1/no-such-thing", {"HTTP_X_ATLAS_TOKEN": writer}, None),
        ("get", "/api/v2/ping", {"HTTP_AUTHORIZATION": f"Bearer {writer}"}, None),
        ("get", "/api/v2/no-such-thing", {"HTTP_AUTHORIZATION": f"Bearer {writer}"}, None),
        ("get", "/api/v1/user/", {"HTTP_X_ATLAS_TOKEN": writer}, None),
        *[("get", "/api/v1/user", {"HTTP_X_ATLAS_TOKEN": "garbage"}, None)] * 3,  # 401, 401, 429
    ]
    found = []
    for method, path, headers, body in requests:
        extra = {"data": body, "content_type": "application/json"} if body is not None else {}
        response = getattr(client, method)(path, **extra, **headers)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        found.append((method, path, response.status_code, sorted(response.items()), content))
    return found


def test_every_answer_is_the_full_stacks(personas, settings):
    settings.ATLAS_MAX_BODY_BYTES = 1024
    settings.ATLAS_AUTH_FAILURE_LIMIT = 2
    environment("acme", "network")
    personas.read_only_token = token_for(personas.writer.user, read_only=True)
    full, short = APIClient(), routing_api_client()
    full_answers = _answers(full, personas)
    short_answers = _answers(short, personas)
    assert short_answers == full_answers
    statuses = [answer[2] for answer in short_answers]
    assert statuses == [
        200, 200, 200, 401, 200, 404, 409, 403, 400, 200, 400, 400, 400, 413, 404, 204, 404,
        404, 401, 401, 429,
    ]  # fmt: skip
    headers = dict(short_answers[1][3])
    assert "Content-Security-Policy" in headers and headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Vary" not in headers and "Set-Cookie" not in headers


def test_the_short_stack_really_serves_token_calls(personas):
    client = routing_api_client()
    assert isinstance(client.handler, RoutingClientHandler)
    response = client.get("/api/v1/user", HTTP_X_ATLAS_TOKEN=personas.writer.token)
    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "session")  # no SessionMiddleware ran
    browser = client.get("/api/v1/user")
    assert browser.status_code == 401
    assert hasattr(browser.wsgi_request, "session")  # the web's stack, for the session


def test_force_authenticate_reaches_both_stacks(personas):
    client = routing_api_client()
    client.force_authenticate(user=personas.reader.user)
    assert client.get("/api/v1/user").json()["username"] == "reader"
    with_header = client.get("/api/v1/user", HTTP_X_ATLAS_TOKEN=personas.reader.token)
    assert with_header.json()["username"] == "reader"
