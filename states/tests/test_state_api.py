"""GET, PUT and DELETE of /api/v1/terraform/state/:username/:name: every rule and status."""

import base64
import hashlib
import json

import pytest

from environments.models import Environment
from states.models import EnvironmentState, StateVersion

from .factories import OTHER_LINEAGE, md5_b64, put_state, state_bytes


def head(environment):
    state = EnvironmentState.objects.select_related("head").filter(pk=environment.pk).first()
    return state.head if state else None


def test_get_without_any_state_is_404_which_terraform_reads_as_empty(personas, network, url):
    response = personas.reader.client.get(url)
    assert response.status_code == 404
    assert response.json() == {"errors": {"base": ["Not found."]}}


def test_the_first_put_is_stored_and_answered_with_exactly_200(personas, network, url):
    body = state_bytes(serial=1, outputs={"ip": "10.0.0.1"})
    response = put_state(personas.writer.client, url, body)
    assert response.status_code == 200
    assert response.json()["version"]["serial"] == 1
    version = head(network)
    assert (version.serial, version.size, version.md5) == (
        1,
        len(body),
        hashlib.md5(body).hexdigest(),
    )
    assert version.sha256 == hashlib.sha256(body).hexdigest()
    assert version.created_by == personas.writer.user
    assert version.token.user == personas.writer.user


def test_get_returns_the_exact_stored_bytes_with_their_md5(personas, network, url):
    body = state_bytes(serial=1, indent=7)  # an unusual layout is kept byte for byte
    put_state(personas.writer.client, url, body)
    response = personas.reader.client.get(url)
    assert response.status_code == 200
    assert response.content == body
    assert response["Content-Type"] == "application/json"
    assert response["Content-MD5"] == base64.b64encode(hashlib.md5(body).digest()).decode()
    assert response["Cache-Control"] == "no-store"


def test_identical_bytes_are_a_no_op_200(personas, network, url):
    body = state_bytes(serial=1)
    put_state(personas.writer.client, url, body)
    response = put_state(personas.writer.client, url, body)  # Terraform's client retried
    assert response.status_code == 200
    assert response.json()["version"]["serial"] == 1
    assert StateVersion.objects.filter(environment=network).count() == 1


def test_a_higher_serial_becomes_the_head(personas, network, url):
    put_state(personas.writer.client, url, state_bytes(serial=1))
    newer = state_bytes(serial=2, outputs={"ip": "10.0.0.2"})
    assert put_state(personas.writer.client, url, newer).status_code == 200
    assert head(network).serial == 2
    assert personas.reader.client.get(url).content == newer
    assert StateVersion.objects.filter(environment=network).count() == 2


@pytest.mark.parametrize(
    ("serial", "lineage", "message"),
    [
        (5, None, "already stored"),  # equal serial, other bytes
        (4, None, "lower"),
        (9, OTHER_LINEAGE, "lineage"),
    ],
)
def test_conflicts_are_409_and_leave_the_stored_bytes_alone(
    personas, network, url, serial, lineage, message
):
    stored = state_bytes(serial=5, outputs={"ip": "a"})
    put_state(personas.writer.client, url, stored)
    kwargs = {"lineage": lineage} if lineage else {}
    response = put_state(
        personas.writer.client, url, state_bytes(serial=serial, outputs={"ip": "b"}, **kwargs)
    )
    assert response.status_code == 409
    assert message in response.json()["errors"]["base"][0]
    assert personas.reader.client.get(url).content == stored
    assert StateVersion.objects.filter(environment=network).count() == 1


def test_a_conflict_leaves_no_blob_behind(personas, network, url, isolated_data):
    put_state(personas.writer.client, url, state_bytes(serial=5))
    put_state(personas.writer.client, url, state_bytes(serial=5, outputs={"x": "y"}))
    put_state(personas.writer.client, url, state_bytes(serial=5))  # unchanged
    blobs = [p for p in isolated_data.blobs.rglob("*") if p.is_file()]
    assert [p.name for p in blobs] == [head(network).blob_name.rsplit("/", 1)[1]]


def test_a_content_md5_mismatch_is_400_and_nothing_is_stored(personas, network, url, isolated_data):
    body = state_bytes(serial=1)
    response = put_state(personas.writer.client, url, body, md5=md5_b64(b"something else"))
    assert response.status_code == 400
    assert "Content-MD5" in response.json()["errors"]
    assert not StateVersion.objects.exists()
    assert not [p for p in isolated_data.blobs.rglob("*") if p.is_file()]


@pytest.mark.parametrize("header", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_content_md5_is_400(personas, network, url, header):
    response = put_state(personas.writer.client, url, state_bytes(serial=1), md5=header)
    assert response.status_code == 400
    assert "Content-MD5" in response.json()["errors"]


def test_content_md5_is_optional(personas, network, url):
    assert (
        put_state(personas.writer.client, url, state_bytes(serial=1), md5=None).status_code == 200
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"lineage": "x"}', 'no "serial"'),
        (b'{"serial": "3"}', "integer"),
        (b"", "empty"),
    ],
)
def test_a_body_that_is_not_a_state_is_400(personas, network, url, body, message):
    response = put_state(personas.writer.client, url, body)
    assert response.status_code == 400
    assert message in response.json()["errors"]["base"][0]
    assert not StateVersion.objects.exists()


def test_the_run_id_terraform_sends_is_recorded(personas, network, url):
    put_state(personas.writer.client, f"{url}?atlas_run_id=run-abc123", state_bytes(serial=1))
    assert head(network).run_id == "run-abc123"
    put_state(personas.writer.client, f"{url}?atlas_run_id=", state_bytes(serial=2))
    assert head(network).run_id == ""


def test_an_overlong_run_id_is_400(personas, network, url):
    response = put_state(
        personas.writer.client, f"{url}?atlas_run_id={'x' * 200}", state_bytes(serial=1)
    )
    assert response.status_code == 400
    assert "atlas_run_id" in response.json()["errors"]


def test_a_token_in_the_query_string_is_refused(personas, network, url):
    response = personas.reader.client.get(f"{url}?access_token={personas.reader.token}")
    assert response.status_code == 400


def test_writing_to_a_new_environment_creates_it(personas):
    url = "/api/v1/terraform/state/acme/brand-new"
    response = put_state(personas.writer.client, url, state_bytes(serial=1))
    assert response.status_code == 200
    environment = Environment.objects.get(namespace__name="acme", name="brand-new")
    assert environment.created_by == personas.writer.user
    assert head(environment).serial == 1


def test_a_user_writes_state_into_their_own_namespace(personas):
    url = "/api/v1/terraform/state/outsider/mine"
    assert put_state(personas.outsider.client, url, state_bytes(serial=1)).status_code == 200
    assert personas.outsider.client.get(url).status_code == 200


def test_environment_names_are_case_insensitive(personas, network):
    put_state(personas.writer.client, "/api/v1/terraform/state/ACME/Network", state_bytes(serial=1))
    assert Environment.objects.count() == 1
    assert personas.reader.client.get("/api/v1/terraform/state/acme/NETWORK").status_code == 200


def test_an_invalid_new_environment_name_is_422(personas):
    response = put_state(
        personas.writer.client, "/api/v1/terraform/state/acme/.hidden", state_bytes(serial=1)
    )
    assert response.status_code == 422
    assert "name" in response.json()["errors"]


def test_a_body_that_is_not_a_state_creates_no_environment(personas):
    response = put_state(personas.writer.client, "/api/v1/terraform/state/acme/new", b"nope")
    assert response.status_code == 400
    assert not Environment.objects.filter(name="new").exists()


def test_a_reader_may_not_create_an_environment_by_writing(personas):
    response = put_state(
        personas.reader.client, "/api/v1/terraform/state/acme/new", state_bytes(serial=1)
    )
    assert response.status_code == 403
    assert not Environment.objects.filter(name="new").exists()


def test_delete_clears_the_head_and_keeps_the_history(personas, network, url):
    put_state(personas.writer.client, url, state_bytes(serial=1))
    put_state(personas.writer.client, url, state_bytes(serial=2, outputs={"a": "b"}))
    response = personas.admin.client.delete(url)
    assert response.status_code == 200
    assert personas.reader.client.get(url).status_code == 404
    assert StateVersion.objects.filter(environment=network).count() == 2
    assert EnvironmentState.objects.get(pk=network.pk).max_serial == 2
    assert personas.admin.client.delete(url).status_code == 404  # nothing left to clear


def test_after_delete_a_new_lineage_may_start_above_the_highest_serial(personas, network, url):
    put_state(personas.writer.client, url, state_bytes(serial=4))
    personas.admin.client.delete(url)
    replacement = state_bytes(serial=5, lineage=OTHER_LINEAGE)
    assert put_state(personas.writer.client, url, replacement).status_code == 200
    assert personas.reader.client.get(url).content == replacement


def test_after_delete_a_serial_already_used_is_422_not_409(personas, network, url):
    # Not 409: Terraform 0.11 answers a 409 by reading the head, and crashes on a 404.
    put_state(personas.writer.client, url, state_bytes(serial=4))
    personas.admin.client.delete(url)
    response = put_state(personas.writer.client, url, state_bytes(serial=1, lineage=OTHER_LINEAGE))
    assert response.status_code == 422
    assert "above 4" in response.json()["errors"]["serial"][0]
    assert personas.reader.client.get(url).status_code == 404


def test_delete_of_an_environment_without_state_is_404(personas, network, url):
    assert personas.admin.client.delete(url).status_code == 404


def test_deleting_the_environment_removes_its_blobs(personas, network, url, isolated_data):
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        put_state(personas.writer.client, url, state_bytes(serial=1))
        network.delete()
    assert not [p for p in isolated_data.blobs.rglob("*") if p.is_file()]


def test_errors_are_json_for_every_status(personas, network, url, anonymous):
    assert anonymous.get(url).status_code == 401
    assert "errors" in anonymous.get(url).json()
    response = personas.reader.client.patch(url, data=b"{}", content_type="application/json")
    assert response.status_code == 405
    assert "errors" in response.json()


def test_a_list_of_the_version_fields_is_returned_on_put(personas, network, url):
    response = put_state(personas.writer.client, f"{url}?atlas_run_id=r1", state_bytes(serial=1))
    version = response.json()["version"]
    assert set(version) == {
        "serial",
        "lineage",
        "md5",
        "sha256",
        "size",
        "door",
        "terraform_version",
        "created_at",
        "created_by",
        "run",
        "source",
        "rolled_back_from",
    }
    assert (version["created_by"], version["run"], version["source"]) == ("writer", "r1", "api")
    assert (version["door"], version["terraform_version"]) == ("atlas", "0.11.11")
    assert json.loads(personas.reader.client.get(url).content)["serial"] == 1
