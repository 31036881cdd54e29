"""Organizations and memberships through /api/v1, with the permission matrix."""

import pytest

from accounts.models import Level, Membership, Namespace, Organization
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_creating_an_organization_makes_the_creator_its_admin(personas):
    response = personas.outsider.client.post(
        "/api/v1/organizations", {"organization": {"name": "Globex"}}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["organization"]["name"] == "Globex"
    assert response.json()["organization"]["level"] == "admin"
    org = Organization.objects.get(namespace__name="Globex")
    assert Membership.objects.get(organization=org).user == personas.outsider.user


@pytest.mark.parametrize("name", ["acme", "ACME", "admin", "Writer"])
def test_a_taken_name_in_any_case_is_a_422_on_name(personas, name):
    response = personas.outsider.client.post(
        "/api/v1/organizations", {"organization": {"name": name}}, format="json"
    )
    assert response.status_code == 422
    assert response.json() == {"errors": {"name": ["has already been taken"]}}
    assert Namespace.objects.filter(name__iexact=name).count() == 1


@pytest.mark.parametrize("name", ["", ".hidden", "a b", "x" * 65, "sl/ash", "é"])
def test_an_invalid_name_is_a_422_on_name(personas, name):
    response = personas.outsider.client.post(
        "/api/v1/organizations", {"organization": {"name": name}}, format="json"
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["name"]
    assert not Organization.objects.exclude(namespace__name="acme").exists()


def test_json_and_form_bodies_create_the_same_organization(personas):
    json_response = personas.outsider.client.post(
        "/api/v1/organizations", {"organization": {"name": "one"}}, format="json"
    )
    form_response = personas.outsider.client.post(
        "/api/v1/organizations",
        "organization[name]=two",
        content_type="application/x-www-form-urlencoded",
    )
    assert json_response.status_code == form_response.status_code == 201
    assert json_response.json()["organization"]["level"] == "admin"
    assert form_response.json()["organization"]["name"] == "two"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('["a list"]', "application/json"),
        ('{"organization": "acme"}', "application/json"),
        ('{"something": {}}', "application/json"),
        ("a" + "[a]" * 10 + "=1", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_are_400_with_the_error_shape(personas, body, content_type):
    response = personas.outsider.client.post(
        "/api/v1/organizations", body, content_type=content_type
    )
    assert response.status_code == 400
    assert set(response.json()) == {"errors"}
    assert not Organization.objects.exclude(namespace__name="acme").exists()


def test_an_unsupported_content_type_is_415(personas):
    response = personas.outsider.client.post(
        "/api/v1/organizations", "<xml/>", content_type="application/xml"
    )
    assert response.status_code == 415
    assert "errors" in response.json()


def test_too_many_form_parameters_are_refused(personas, settings):
    settings.ATLAS_MAX_PARAMS = 10
    body = "&".join(f"organization[k{i}]=v" for i in range(11))
    response = personas.outsider.client.post(
        "/api/v1/organizations", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400


def test_the_list_shows_only_my_organizations_with_my_level(personas):
    body = personas.reader.client.get("/api/v1/organizations").json()
    assert body["organizations"] == [
        {
            "name": "acme",
            "email": "",
            "created_at": body["organizations"][0]["created_at"],
            "level": "read",
            "require_two_factor": False,
        }
    ]
    assert body["meta"] == {"total": 1, "page": 1, "per_page": 20}
    assert personas.outsider.client.get("/api/v1/organizations").json()["organizations"] == []


def test_the_organization_list_costs_constant_queries(personas, django_assert_max_num_queries):
    for i in range(5):
        org = Organization.objects.create(
            namespace=Namespace.objects.create(name=f"o{i}", kind="organization")
        )
        Membership.objects.create(organization=org, user=personas.reader.user, level="write")
    personas.reader.client.get("/api/v1/authenticate")
    with django_assert_max_num_queries(3):
        response = personas.reader.client.get("/api/v1/organizations")
    assert response.json()["meta"]["total"] == 6


@pytest.mark.parametrize(
    ("page", "per_page", "status"),
    [("0", "20", 400), ("x", "20", 400), ("1", "0", 400), ("-1", "5", 400), ("99", "20", 200)],
)
def test_pagination_parameters_are_validated(personas, page, per_page, status):
    response = personas.reader.client.get(f"/api/v1/organizations?page={page}&per_page={per_page}")
    assert response.status_code == status
    if status == 200:
        assert response.json()["organizations"] == []
        assert response.json()["meta"]["total"] == 1


ORG_URLS = [
    ("get", "/api/v1/organizations/acme", None),
    ("get", "/api/v1/organizations/acme/members", None),
    ("post", "/api/v1/organizations/acme/members", {"membership": {"username": "newbie"}}),
    ("patch", "/api/v1/organizations/acme/members/reader", {"membership": {"level": "write"}}),
    ("delete", "/api/v1/organizations/acme/members/reader", None),
]

# role -> expected status per ORG_URLS entry
MATRIX = {
    "admin": [200, 200, 201, 200, 204],
    "writer": [200, 200, 403, 403, 403],
    "reader": [200, 200, 403, 403, 403],
    "outsider": [404, 404, 404, 404, 404],
}


@pytest.mark.parametrize("role", list(MATRIX))
@pytest.mark.parametrize("index", range(len(ORG_URLS)))
def test_organization_permission_matrix(personas, role, index):
    UserFactory(username="newbie")
    method, url, body = ORG_URLS[index]
    client = getattr(personas, role).client
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == MATRIX[role][index], response.content
    if response.status_code >= 400:
        assert "errors" in response.json()
        assert Membership.objects.filter(organization=personas.org).count() == 3
        assert Membership.objects.get(user=personas.reader.user).level == Level.READ


def test_an_unknown_organization_is_the_same_404_as_an_invisible_one(personas):
    unknown = personas.outsider.client.get("/api/v1/organizations/nope")
    invisible = personas.outsider.client.get("/api/v1/organizations/acme")
    assert unknown.status_code == invisible.status_code == 404
    assert unknown.json() == invisible.json()


def test_the_last_admin_can_be_neither_demoted_nor_removed(personas):
    client = personas.admin.client
    response = client.patch(
        "/api/v1/organizations/acme/members/admin", {"membership": {"level": "read"}}, format="json"
    )
    assert response.status_code == 422
    assert "last admin" in response.json()["errors"]["level"][0]
    response = client.delete("/api/v1/organizations/acme/members/admin")
    assert response.status_code == 422
    assert Membership.objects.get(user=personas.admin.user).level == Level.ADMIN


def test_an_admin_can_step_down_when_another_admin_exists(personas):
    client = personas.admin.client
    client.patch(
        "/api/v1/organizations/acme/members/writer",
        {"membership": {"level": "admin"}},
        format="json",
    )
    response = client.delete("/api/v1/organizations/acme/members/admin")
    assert response.status_code == 204
    assert not Membership.objects.filter(user=personas.admin.user).exists()


def test_adding_an_unknown_user_or_a_member_twice_is_422(personas):
    client = personas.admin.client
    response = client.post(
        "/api/v1/organizations/acme/members", {"membership": {"username": "ghost"}}, format="json"
    )
    assert response.status_code == 422
    assert response.json() == {"errors": {"username": ["no such user"]}}
    response = client.post(
        "/api/v1/organizations/acme/members", {"membership": {"username": "READER"}}, format="json"
    )
    assert response.status_code == 422
    assert response.json() == {"errors": {"username": ["is already a member"]}}


def test_a_bad_level_is_422_naming_level(personas):
    response = personas.admin.client.patch(
        "/api/v1/organizations/acme/members/reader",
        {"membership": {"level": "owner"}},
        format="json",
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["level"]
