"""TFE v2 state versions: inline and uploaded writes under the one rule and the
one lock, single-use upload URLs, downloads and outputs."""

import base64
import hashlib
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from environments import services as environment_services
from environments.models import LockKind
from states.models import Door, EnvironmentState, StateUpload, StateVersion

from .factories import OTHER_LINEAGE, put_state, state_bytes

STATE = "/api/v1/terraform/state/acme/network"


def v2(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def modern_state(serial, lineage="5b2c1d3e-7a8f-4c6d-9e0f-1a2b3c4d5e6f"):
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.6.6",
            "serial": serial,
            "lineage": lineage,
            "outputs": {
                "cidr": {"value": "10.0.0.0/16", "type": "string"},
                "password": {"value": "hunter2", "type": "string", "sensitive": True},
                "zones": {"value": ["a", "b"], "type": ["list", "string"]},
            },
            "resources": [],
        },
        indent=2,
    ).encode()


def announce(client, ws, body, inline=False, **extra):
    attributes = {"serial": json.loads(body)["serial"], "md5": hashlib.md5(body).hexdigest()}
    attributes["lineage"] = json.loads(body).get("lineage", "")
    if inline:
        attributes["state"] = base64.b64encode(body).decode()
    attributes.update(extra)
    return client.post(
        f"/api/v2/workspaces/{ws}/state-versions",
        json.dumps({"data": {"type": "state-versions", "attributes": attributes}}),
        content_type="application/vnd.api+json",
    )


def upload(url, body):
    return APIClient().put(
        url.removeprefix("http://testserver"), body, content_type="application/octet-stream"
    )


@pytest.fixture
def ws(network):
    return f"ws-{network.pk}"


def head(network):
    state = EnvironmentState.objects.select_related("head").filter(pk=network.pk).first()
    return state.head if state else None


def test_an_inline_state_is_written_through_the_tfe_door(personas, network, ws):
    body = modern_state(1)
    response = announce(v2(personas.writer.token), ws, body, inline=True)
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["attributes"]["status"] == "finished"
    assert data["attributes"]["hosted-state-download-url"].endswith(
        f"/api/v2/state-versions/{data['id']}/download"
    )
    version = head(network)
    assert (version.serial, version.door, version.terraform_version) == (1, Door.TFE, "1.6.6")
    assert not StateUpload.objects.exists()


def test_an_announced_state_is_pending_until_its_single_use_upload_lands(personas, network, ws):
    body = modern_state(1)
    created = announce(v2(personas.writer.token), ws, body)
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["attributes"]["status"] == "pending"
    raw_url = data["attributes"]["hosted-state-upload-url"]
    json_url = data["attributes"]["hosted-json-state-upload-url"]
    assert raw_url.startswith("http://testserver/api/v2/state-uploads/")
    pending = v2(personas.reader.token).get(f"/api/v2/state-versions/{data['id']}")
    assert pending.json()["data"]["attributes"]["status"] == "pending"
    assert head(network) is None

    assert upload(raw_url, body).status_code == 200
    assert upload(json_url, b'{"format_version": "1.0"}').status_code == 200
    assert upload(raw_url, body).status_code == 404  # single use
    assert upload(json_url, b"{}").status_code == 404
    finished = v2(personas.reader.token).get(f"/api/v2/state-versions/{data['id']}")
    assert finished.json()["data"]["attributes"]["status"] == "finished"
    version = head(network)
    assert (version.serial, version.created_by, version.door) == (1, personas.writer.user, Door.TFE)
    assert StateUpload.objects.get().version == version


def test_an_expired_or_unknown_upload_url_is_404(personas, network, ws):
    data = announce(v2(personas.writer.token), ws, modern_state(1)).json()["data"]
    StateUpload.objects.update(expires_at=timezone.now())
    assert upload(data["attributes"]["hosted-state-upload-url"], modern_state(1)).status_code == 404
    assert upload("/api/v2/state-uploads/made-up", modern_state(1)).status_code == 404
    assert head(network) is None


def test_an_upload_with_another_body_than_announced_is_refused(personas, network, ws):
    data = announce(v2(personas.writer.token), ws, modern_state(1)).json()["data"]
    response = upload(data["attributes"]["hosted-state-upload-url"], modern_state(2))
    assert response.status_code == 422
    assert head(network) is None
    failed = v2(personas.writer.token).get(f"/api/v2/state-versions/{data['id']}")
    assert failed.status_code == 409


def test_the_conflict_rule_refuses_stale_and_foreign_states_before_the_upload(
    personas, network, ws
):
    client = v2(personas.writer.token)
    announce(client, ws, modern_state(2), inline=True)
    stale = announce(client, ws, modern_state(1))
    assert stale.status_code == 409
    assert "lower than the stored serial 2" in stale.json()["errors"][0]["detail"]
    foreign = announce(client, ws, modern_state(3, lineage=OTHER_LINEAGE), inline=True)
    assert foreign.status_code == 409
    assert head(network).serial == 2
    assert not StateUpload.objects.exists()


def test_while_someone_else_holds_the_lock_a_tfe_write_is_refused(personas, network, ws):
    environment_services.lock_environment(
        network, personas.admin.user, "", kind=LockKind.HTTP, lock_id="abc", info={"ID": "abc"}
    )
    response = announce(v2(personas.writer.token), ws, modern_state(1), inline=True)
    assert response.status_code == 409
    assert "locked by admin" in response.json()["errors"][0]["detail"]
    assert not StateVersion.objects.exists()


def test_the_workspace_lock_holder_writes_through_tfe_and_others_not(personas, network, ws):
    writer = v2(personas.writer.token)
    writer.post(f"/api/v2/workspaces/{ws}/actions/lock")
    assert announce(writer, ws, modern_state(1), inline=True).status_code == 201
    assert put_state(personas.admin.client, STATE, modern_state(2)).status_code == 409
    assert head(network).serial == 1


def test_outputs_hide_sensitive_values_in_the_list_and_give_them_one_by_one(personas, network, ws):
    announce(v2(personas.writer.token), ws, modern_state(1), inline=True)
    reader = v2(personas.reader.token)
    listed = reader.get(f"/api/v2/workspaces/{ws}/current-state-version-outputs").json()["data"]
    by_name = {o["attributes"]["name"]: o for o in listed}
    assert by_name["password"]["attributes"]["value"] is None
    assert by_name["password"]["attributes"]["sensitive"] is True
    assert by_name["zones"]["attributes"]["detailed-type"] == ["list", "string"]
    assert by_name["zones"]["attributes"]["type"] == "array"
    one = reader.get(f"/api/v2/state-version-outputs/{by_name['password']['id']}").json()["data"]
    assert one["attributes"]["value"] == "hunter2"
    assert "hunter2" not in json.dumps(listed)
    assert (
        v2(personas.outsider.token)
        .get(f"/api/v2/state-version-outputs/{by_name['password']['id']}")
        .status_code
        == 404
    )


def test_outputs_of_a_0_11_state_read_as_their_1x_types(personas, network, ws):
    put_state(personas.writer.client, STATE, state_bytes(serial=1, outputs={"ip": "10.0.0.1"}))
    listed = v2(personas.reader.token).get(f"/api/v2/workspaces/{ws}/current-state-version-outputs")
    assert listed.json()["data"][0]["attributes"] == {
        "name": "ip",
        "sensitive": False,
        "type": "string",
        "value": "10.0.0.1",
        "detailed-type": "string",
    }


def test_the_current_version_and_its_download_are_the_stored_bytes(personas, network, ws):
    reader = v2(personas.reader.token)
    assert reader.get(f"/api/v2/workspaces/{ws}/current-state-version").status_code == 404
    body = modern_state(1)
    announce(v2(personas.writer.token), ws, body, inline=True)
    current = reader.get(f"/api/v2/workspaces/{ws}/current-state-version").json()["data"]
    assert current["attributes"]["serial"] == 1
    download = reader.get(
        current["attributes"]["hosted-state-download-url"].removeprefix("http://testserver")
    )
    assert download.status_code == 200
    content = b"".join(download.streaming_content) if download.streaming else download.content
    assert content == body


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"serial": -1}, "serial"),
        ({"serial": "1"}, "serial"),
        ({"md5": "zz"}, "md5"),
        ({"state": "%%%"}, "state"),
    ],
)
def test_invalid_creation_attributes_are_422_naming_them(personas, network, ws, attributes, field):
    response = announce(v2(personas.writer.token), ws, modern_state(1), **attributes)
    assert response.status_code == 422
    assert response.json()["errors"][0]["source"] == {"pointer": f"/data/attributes/{field}"}
    assert not StateVersion.objects.exists()


def test_an_upload_above_the_state_limit_is_413_and_nothing_is_stored(
    personas, network, ws, settings
):
    data = announce(v2(personas.writer.token), ws, modern_state(1)).json()["data"]
    settings.ATLAS_MAX_STATE_BYTES = 100
    response = upload(data["attributes"]["hosted-state-upload-url"], modern_state(1))
    assert response.status_code == 413
    assert response.json()["errors"][0]["status"] == "413"
    assert head(network) is None
    assert "limit of 100 bytes" in StateUpload.objects.get().error


def test_states_above_the_general_body_limit_stream_through_every_door(
    personas, network, ws, settings
):
    """The state doors read their bodies themselves, bounded by ATLAS_MAX_STATE_BYTES."""
    from .test_http_backend import post_state

    settings.ATLAS_MAX_BODY_BYTES = 200
    client = v2(personas.writer.token)
    assert announce(client, ws, modern_state(1), inline=True).status_code == 201
    data = announce(client, ws, modern_state(2)).json()["data"]
    assert upload(data["attributes"]["hosted-state-upload-url"], modern_state(2)).status_code == 200
    assert post_state(personas.writer.client, STATE, modern_state(3)).status_code == 200
    assert head(network).serial == 3
