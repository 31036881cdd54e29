"""The Content-Security-Policy and the other security headers, on every kind of answer."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

POLICY = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'none'",
)


def assert_secured(response):
    policy = response["Content-Security-Policy"]
    for directive in POLICY:
        assert directive in policy
    assert "unsafe" not in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login", 200),
        ("/", 302),
        ("/no-such-page", 404),
        ("/environments/a%00b", 400),
        ("/api/v1/user", 401),
        ("/api/v1/environments?username=%00", 400),
        ("/api/v2/anything", 404),
        ("/api-docs/", 200),
    ],
)
def test_every_answer_carries_the_policy_and_the_security_headers(path, status):
    response = Client().get(path)
    assert response.status_code == status
    assert_secured(response)


def test_a_refused_body_carries_them_too(settings):
    settings.ATLAS_MAX_BODY_BYTES = 10
    response = Client().post("/api/v1/authenticate", "{}" * 10, content_type="application/json")
    assert response.status_code == 413
    assert_secured(response)


def test_the_policy_follows_the_setting(settings):
    assert "img-src 'self' data:" in Client().get("/login")["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    assert Client().get("/login")["Content-Security-Policy"] == "default-src 'self'"
