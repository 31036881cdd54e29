"""The conventions every /api/v1 endpoint shares: JSON errors, CSRF, schema."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v3/user", "/api/v1/nothing-here", "/api/"])
def test_unknown_api_paths_are_json_404s(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"errors": {"base": ["Not found."]}}


def test_unknown_paths_under_api_v2_are_json_api_404s(anonymous):
    response = anonymous.get("/api/v2/user")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/vnd.api+json"
    assert response.json() == {
        "errors": [{"status": "404", "title": "not found", "detail": "Not found."}]
    }


def test_a_wrong_method_is_a_json_405(personas):
    response = personas.writer.client.put("/api/v1/user", {}, format="json")
    assert response.status_code == 405
    assert list(response.json()["errors"]) == ["base"]


def test_an_unexpected_error_is_a_json_500_without_internals(personas, monkeypatch):
    from accounts.api import views

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(views.s, "CurrentUserSerializer", explode)
    personas.writer.client.raise_request_exception = False
    response = personas.writer.client.get("/api/v1/user")
    assert response.status_code == 500
    assert response.json() == {"errors": {"base": ["Internal server error."]}}
    assert b"internals" not in response.content


def test_session_authenticated_api_writes_need_csrf(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.writer.user)
    assert client.get("/api/v1/user").status_code == 200
    response = client.post(
        "/api/v1/organizations",
        {"organization": {"name": "viaweb"}},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["errors"]["base"][0]


def test_the_openapi_schema_describes_the_api(anonymous):
    response = anonymous.get("/api/v1/schema?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/tokens" in schema["paths"]
    assert schema["components"]["securitySchemes"]["AtlasToken"]["name"] == "X-Atlas-Token"


def test_the_api_docs_page_serves_its_assets_locally(anonymous):
    response = anonymous.get("/api-docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    script = anonymous.get("/api-docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_the_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert (tmp_path / "s.yml").read_text().startswith("openapi:")
