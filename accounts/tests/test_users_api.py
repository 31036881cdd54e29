"""/api/v1/authenticate and /api/v1/user."""

import pytest

from accounts.models import Token
from accounts.tests.factories import PASSWORD, UserFactory
from conftest import api_client

pytestmark = pytest.mark.django_db


def test_a_login_and_password_buy_a_token_with_the_description(anonymous):
    UserFactory(username="alice")
    response = anonymous.post(
        "/api/v1/authenticate",
        {"user": {"login": "alice", "password": PASSWORD, "description": "laptop"}},
        format="json",
    )
    assert response.status_code == 201
    text = response.json()["token"]
    token = Token.objects.get(user__username="alice")
    assert token.description == "laptop"
    assert text.startswith(token.public_id + ".atlasv1.")
    assert api_client(text).get("/api/v1/authenticate").status_code == 200


def test_the_form_body_of_atlas_go_works_too(anonymous):
    UserFactory(username="alice")
    response = anonymous.post(
        "/api/v1/authenticate",
        f"user[login]=alice&user[password]={PASSWORD.replace(' ', '+')}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201


def test_bad_credentials_are_401_and_throttled(anonymous, settings):
    settings.ATLAS_AUTH_FAILURE_LIMIT = 2
    UserFactory(username="alice")
    body = {"user": {"login": "alice", "password": "wrong"}}
    statuses = [
        anonymous.post("/api/v1/authenticate", body, format="json").status_code for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    good = {"user": {"login": "alice", "password": PASSWORD}}
    assert anonymous.post("/api/v1/authenticate", good, format="json").status_code == 429
    assert not Token.objects.exists()


def test_me_lists_my_organizations_and_levels(personas):
    body = personas.writer.client.get("/api/v1/user").json()
    assert body["username"] == "writer"
    assert body["email"] == "writer@example.com"
    assert body["organizations"] == [{"name": "acme", "level": "write"}]


@pytest.mark.parametrize(
    ("role", "username", "status"),
    [
        ("writer", "acme", 200),
        ("writer", "ACME", 200),
        ("writer", "reader", 200),  # shares an organization
        ("writer", "writer", 200),
        ("outsider", "acme", 404),
        ("outsider", "reader", 404),
        ("outsider", "nobody", 404),
    ],
)
def test_a_user_or_organization_is_visible_only_to_those_who_share_it(
    personas, role, username, status
):
    response = getattr(personas, role).client.get(f"/api/v1/user/{username}")
    assert response.status_code == status
    if status == 200:
        assert response.json()["username"].lower() == username.lower()
    else:
        assert response.json() == {"errors": {"base": ["Not found."]}}
