"""TFE v2 organizations, workspaces and the workspace lock, through the real URLs."""

import pytest
from rest_framework.test import APIClient

from environments import services
from environments.models import Environment, LockKind

JSONAPI = "application/vnd.api+json"


def v2(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def create(client, name, **attributes):
    body = {"data": {"type": "workspaces", "attributes": {"name": name, **attributes}}}
    return client.post("/api/v2/organizations/acme/workspaces", body, format="json")


def test_discovery_lists_the_tfe_state_and_login_services(anonymous):
    response = anonymous.get("/.well-known/terraform.json")
    assert response.status_code == 200
    services_ = response.json()
    for name in ("tfe.v2", "tfe.v2.1", "tfe.v2.2", "state.v2"):
        assert services_[name] == "http://testserver/api/v2/"
    assert services_["login.v1"] == {
        "client": "terraform-cli",
        "grant_types": ["authz_code"],
        "authz": "http://testserver/terraform-login/authorize",
        "token": "http://testserver/terraform-login/token",
        "ports": [10000, 10010],
    }


def test_discovery_uses_the_external_url_behind_a_proxy(anonymous, settings):
    settings.EXTERNAL_URL = "https://tf.example.com"
    assert anonymous.get("/.well-known/terraform.json").json()["tfe.v2"] == (
        "https://tf.example.com/api/v2/"
    )


def test_behind_a_trusted_tls_proxy_discovery_names_the_https_host(anonymous, settings):
    import ipaddress

    settings.ATLAS_TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    settings.USE_X_FORWARDED_HOST = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["atlas.example.com", "testserver"]
    forwarded = {
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_HOST": "atlas.example.com",
        "HTTP_X_FORWARDED_FOR": "203.0.113.9",
    }
    answer = anonymous.get("/.well-known/terraform.json", **forwarded).json()
    assert answer["tfe.v2"] == "https://atlas.example.com/api/v2/"
    assert answer["login.v1"]["authz"] == "https://atlas.example.com/terraform-login/authorize"
    untrusted = anonymous.get(
        "/.well-known/terraform.json", **{**forwarded, "REMOTE_ADDR": "10.9.9.9"}
    )
    assert untrusted.json()["tfe.v2"] == "http://testserver/api/v2/"


def test_ping_and_every_v2_answer_carry_the_api_version(anonymous):
    response = anonymous.get("/api/v2/ping")
    assert (response.status_code, response["TFP-API-Version"]) == (204, "2.5")
    missing = anonymous.get("/api/v2/no/such/thing")
    assert missing.status_code == 404
    assert missing["TFP-API-Version"] == "2.5"
    assert missing.json() == {
        "errors": [{"status": "404", "title": "not found", "detail": "Not found."}]
    }


def test_creating_a_workspace_answers_201_in_go_tfe_s_shape(personas):
    response = create(v2(personas.writer.token), "network", **{"terraform-version": "1.6.6"})
    assert response.status_code == 201
    assert response["Content-Type"] == JSONAPI
    data = response.json()["data"]
    environment = Environment.objects.get(name="network")
    assert data["id"] == f"ws-{environment.pk}"
    assert data["type"] == "workspaces"
    attributes = data["attributes"]
    assert (attributes["name"], attributes["execution-mode"], attributes["operations"]) == (
        "network",
        "remote",
        True,
    )
    assert attributes["permissions"]["can-queue-run"] is True
    assert data["relationships"]["current-run"]["data"] is None
    assert attributes["terraform-version"] == "1.6.6"
    assert attributes["permissions"]["can-create-state-versions"] is True
    assert attributes["permissions"]["can-force-unlock"] is False
    assert data["relationships"]["organization"]["data"] == {"id": "acme", "type": "organizations"}
    assert environment.created_by == personas.writer.user


def test_a_taken_or_invalid_name_is_422_naming_the_attribute(personas):
    client = v2(personas.writer.token)
    create(client, "network")
    taken = create(client, "NETWORK")
    assert taken.status_code == 422
    assert taken.json()["errors"][0]["source"] == {"pointer": "/data/attributes/name"}
    assert "has already been taken" in taken.json()["errors"][0]["detail"]
    assert create(client, ".hidden").status_code == 422
    assert Environment.objects.count() == 1


def test_the_workspace_list_searches_and_pages_in_constant_queries(
    personas, django_assert_max_num_queries
):
    for index in range(25):
        services.new_environment(personas.org.namespace, f"net-{index:02d}")
    services.new_environment(personas.org.namespace, "other")
    client = v2(personas.reader.token)
    # token (and its first use), organization, membership, count, page, and
    # the levels of the page's workspaces (grants included) in one query
    with django_assert_max_num_queries(7):
        first = client.get("/api/v2/organizations/acme/workspaces?search[name]=net-")
    assert [w["attributes"]["name"] for w in first.json()["data"]] == [
        f"net-{i:02d}" for i in range(20)
    ]
    assert first.json()["meta"]["pagination"] == {
        "current-page": 1,
        "page-size": 20,
        "prev-page": None,
        "next-page": 2,
        "total-pages": 2,
        "total-count": 25,
    }
    with django_assert_max_num_queries(7):
        second = client.get(
            "/api/v2/organizations/acme/workspaces?search[name]=net-&page[number]=2&page[size]=20"
        )
    assert len(second.json()["data"]) == 5
    assert client.get("/api/v2/organizations/acme/workspaces?page[size]=0").status_code == 400
    tags = client.get("/api/v2/organizations/acme/workspaces?search[tags]=prod")
    assert tags.json()["data"] == []


def test_lock_unlock_and_force_unlock_are_the_environment_s_one_lock(personas):
    writer = v2(personas.writer.token)
    ws = create(writer, "network").json()["data"]["id"]
    locked = writer.post(
        f"/api/v2/workspaces/{ws}/actions/lock", {"reason": "apply"}, format="json"
    )
    assert locked.status_code == 200
    assert locked.json()["data"]["attributes"]["locked"] is True
    environment = Environment.objects.get(name="network")
    assert (environment.lock_kind, environment.lock_id, environment.lock_reason) == (
        LockKind.TFE,
        "acme/network",
        "apply",
    )
    again = v2(personas.admin.token).post(f"/api/v2/workspaces/{ws}/actions/lock")
    assert again.status_code == 409
    refused = v2(personas.admin.token).post(f"/api/v2/workspaces/{ws}/actions/unlock", None)
    assert refused.status_code == 409
    assert "is locked by User writer" in refused.json()["errors"][0]["detail"]
    forced = v2(personas.writer.token).post(f"/api/v2/workspaces/{ws}/actions/force-unlock")
    assert forced.status_code == 403
    assert writer.post(f"/api/v2/workspaces/{ws}/actions/unlock").status_code == 200
    assert not Environment.objects.get(name="network").locked
    not_locked = writer.post(f"/api/v2/workspaces/{ws}/actions/unlock")
    assert not_locked.status_code == 409
    writer.post(
        f"/api/v2/workspaces/{ws}/actions/lock",
        {"data": {"attributes": {"reason": "x"}}},
        format="json",
    )
    admin = v2(personas.admin.token)
    assert admin.post(f"/api/v2/workspaces/{ws}/actions/force-unlock").status_code == 200
    assert not Environment.objects.get(name="network").locked


def test_a_run_s_hold_reads_as_locked_by_run_to_go_tfe(personas):
    writer = v2(personas.writer.token)
    ws = create(writer, "network").json()["data"]["id"]
    from environments import locking

    Environment.objects.filter(name="network").update(
        **{
            **locking.RELEASED,
            "locked": True,
            "lock_kind": LockKind.RUN,
            "lock_reason": "Held by run #1",
        }
    )
    response = writer.post(f"/api/v2/workspaces/{ws}/actions/unlock")
    assert response.status_code == 409
    assert "is locked by Run" in response.json()["errors"][0]["detail"]


def test_the_terraform_version_may_be_set_by_a_writer_other_settings_need_admin(personas):
    writer = v2(personas.writer.token)
    ws = create(writer, "network").json()["data"]["id"]
    patch = {"data": {"type": "workspaces", "attributes": {"terraform-version": "1.6.6"}}}
    response = writer.patch(f"/api/v2/workspaces/{ws}", patch, format="json")
    assert response.json()["data"]["attributes"]["terraform-version"] == "1.6.6"
    settings_ = {"data": {"type": "workspaces", "attributes": {"auto-apply": True}}}
    assert writer.patch(f"/api/v2/workspaces/{ws}", settings_, format="json").status_code == 403
    admin = v2(personas.admin.token)
    assert admin.patch(f"/api/v2/workspaces/{ws}", settings_, format="json").status_code == 200
    assert Environment.objects.get(name="network").auto_apply is True


def test_entitlements_say_remote_operations_with_state_storage(personas):
    response = v2(personas.reader.token).get("/api/v2/organizations/acme/entitlement-set")
    attributes = response.json()["data"]["attributes"]
    assert (attributes["operations"], attributes["state-storage"]) == (True, True)
    assert response.json()["data"]["type"] == "entitlement-sets"
    assert (
        v2(personas.outsider.token).get("/api/v2/organizations/acme/entitlement-set").status_code
        == 404
    )


def test_account_details_name_the_token_s_user(personas):
    data = v2(personas.reader.token).get("/api/v2/account/details").json()["data"]
    assert (data["type"], data["attributes"]["username"]) == ("users", "reader")


@pytest.mark.parametrize("workspace_id", ["ws-x", "network", "ws-99999"])
def test_an_unknown_workspace_id_is_404(personas, workspace_id):
    assert v2(personas.admin.token).get(f"/api/v2/workspaces/{workspace_id}").status_code == 404


def test_a_workspace_id_is_ascii_digits_only(personas):
    client = v2(personas.admin.token)
    workspace_id = create(client, "network").json()["data"]["id"]
    number = workspace_id.removeprefix("ws-")
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in number)  # isdigit() takes them
    assert client.get(f"/api/v2/workspaces/{workspace_id}").status_code == 200
    assert client.get(f"/api/v2/workspaces/ws-{arabic_indic}").status_code == 404
    assert client.get(f"/api/v2/workspaces/ws-+{number}").status_code == 404


def test_a_workspace_is_read_by_id_or_by_name_in_four_queries(personas, django_assert_num_queries):
    workspace_id = create(v2(personas.writer.token), "network").json()["data"]["id"]
    path = f"/api/v2/workspaces/{workspace_id}"
    reader = v2(personas.reader.token)
    reader.get(path)  # the token's last use, written once a minute
    # the token; the workspace with its namespace; the reader's level; its current run
    with django_assert_num_queries(4):
        response = reader.get(path)
    assert response.status_code == 200
    permissions = response.json()["data"]["attributes"]["permissions"]
    assert permissions["can-queue-run"] is False and permissions["can-read-state-versions"] is True
    assert v2(personas.outsider.token).get(path).status_code == 404
    named = "/api/v2/organizations/acme/workspaces/network"
    with django_assert_num_queries(4):  # the same: organization and name in one query
        assert reader.get(named).json()["data"]["id"] == workspace_id
    any_case = reader.get("/api/v2/organizations/ACME/workspaces/Network")
    assert any_case.json()["data"]["id"] == workspace_id
    assert v2(personas.outsider.token).get(named).status_code == 404
    elsewhere = reader.get("/api/v2/organizations/reader/workspaces/network")
    assert elsewhere.status_code == 404  # the name in another namespace
    lock = reader.post(f"{path}/actions/lock", {}, format="json")
    assert lock.status_code == 403  # a level too low
