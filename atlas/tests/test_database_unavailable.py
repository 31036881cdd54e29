"""An unreachable database is a 503 with Retry-After, never a 500."""

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from atlas.api.exceptions import DATABASE_UNAVAILABLE_MESSAGE

pytestmark = pytest.mark.django_db


def _database_down(*args, **kwargs):
    raise OperationalError("could not connect to server: Connection refused")


def test_an_api_view_answers_json_503(personas, monkeypatch):
    from accounts.api import views

    monkeypatch.setattr(views.User.objects, "prefetch_related", _database_down)
    response = personas.writer.client.get("/api/v1/user")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"errors": {"base": [DATABASE_UNAVAILABLE_MESSAGE]}}


def test_a_web_page_answers_a_plain_503(personas, monkeypatch):
    from accounts import views

    client = Client(raise_request_exception=False)
    client.force_login(personas.writer.user)
    monkeypatch.setattr(views, "render", _database_down)
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Service unavailable" in response.content


def test_a_bug_is_still_a_500(personas, monkeypatch):
    from accounts.api import views

    def bug(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(views.User.objects, "prefetch_related", bug)
    personas.writer.client.raise_request_exception = False
    response = personas.writer.client.get("/api/v1/user")
    assert response.status_code == 500


class SessionSavedTooLateMiddleware:
    """Fails after the view, as saving a session does once the database went away."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        self.get_response(request)
        raise InterfaceError("connection already closed")


@pytest.mark.parametrize("path", ["/api/v1/user", "/login"])
def test_a_database_failure_in_a_middleware_below_is_a_503_too(path, personas, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.SessionSavedTooLateMiddleware"]
    client = Client(raise_request_exception=False)
    response = client.get(path, HTTP_X_ATLAS_TOKEN=personas.writer.token)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    if path.startswith("/api/"):
        assert response.json() == {"errors": {"base": [DATABASE_UNAVAILABLE_MESSAGE]}}
    else:
        assert b"Service unavailable" in response.content
