"""History, download of one version, and rollback through the API."""

import hashlib
import json

import pytest

from states.models import EnvironmentState, StateVersion
from states.parsing import parse_state

from .factories import OTHER_LINEAGE, put_state, state_bytes


@pytest.fixture
def three(personas, network, url):
    """Serials 1, 2 and 3 written by the writer; returns their bodies by serial."""
    bodies = {}
    for serial in (1, 2, 3):
        bodies[serial] = state_bytes(serial=serial, outputs={"ip": f"10.0.0.{serial}"})
        response = put_state(
            personas.writer.client, f"{url}?atlas_run_id=run-{serial}", bodies[serial]
        )
        assert response.status_code == 200
    return bodies


def test_the_history_lists_every_version_newest_first(personas, three, url):
    response = personas.reader.client.get(f"{url}/versions")
    assert response.status_code == 200
    data = response.json()
    assert [v["serial"] for v in data["versions"]] == [3, 2, 1]
    assert data["meta"] == {"total": 3, "page": 1, "per_page": 20}
    newest = data["versions"][0]
    assert newest["md5"] == hashlib.md5(three[3]).hexdigest()
    assert newest["size"] == len(three[3])
    assert (newest["created_by"], newest["run"], newest["source"]) == ("writer", "run-3", "api")
    assert newest["lineage"] == parse_state(three[3]).lineage


def test_the_history_is_paginated(personas, three, url):
    data = personas.reader.client.get(f"{url}/versions?per_page=2&page=2").json()
    assert [v["serial"] for v in data["versions"]] == [1]
    assert data["meta"] == {"total": 3, "page": 2, "per_page": 2}
    assert personas.reader.client.get(f"{url}/versions?page=0").status_code == 400


def test_one_version_downloads_as_its_exact_bytes(personas, three, url):
    response = personas.reader.client.get(f"{url}/versions/2")
    assert response.status_code == 200
    assert response.content == three[2]
    assert response["Content-MD5"]


@pytest.mark.parametrize("serial", ["9", "99999999999999999999999"])
def test_a_missing_version_is_404(personas, three, url, serial):
    assert personas.reader.client.get(f"{url}/versions/{serial}").status_code == 404
    assert personas.admin.client.post(f"{url}/versions/{serial}/rollback").status_code == 404


def test_a_rollback_stores_the_old_content_above_the_highest_serial(personas, three, url, network):
    response = personas.admin.client.post(f"{url}/versions/1/rollback")
    assert response.status_code == 200
    version = response.json()["version"]
    assert (version["serial"], version["source"], version["rolled_back_from"]) == (4, "rollback", 1)
    assert version["created_by"] == "admin"
    body = personas.reader.client.get(url).content
    # The same content as serial 1, with only the serial rewritten.
    assert json.loads(body) == {**json.loads(three[1]), "serial": 4}
    assert body == three[1].replace(b'"serial": 1,', b'"serial": 4,')
    state = EnvironmentState.objects.get(pk=network.pk)
    assert (state.head.serial, state.max_serial) == (4, 4)
    assert StateVersion.objects.filter(environment=network).count() == 4


def test_a_client_holding_the_old_head_is_refused_after_a_rollback(personas, three, url):
    personas.admin.client.post(f"{url}/versions/1/rollback")
    # A Terraform that read serial 3 writes serial 4 with its own content.
    stale = state_bytes(serial=4, outputs={"ip": "stale"})
    assert put_state(personas.writer.client, url, stale).status_code == 409
    # One that read the rolled-back head moves on normally.
    assert put_state(personas.writer.client, url, state_bytes(serial=5)).status_code == 200


def test_a_rollback_after_delete_restores_a_head(personas, three, url):
    personas.admin.client.delete(url)
    response = personas.admin.client.post(f"{url}/versions/3/rollback")
    assert response.status_code == 200
    assert json.loads(personas.reader.client.get(url).content)["serial"] == 4


def test_repeated_rollbacks_keep_serials_growing(personas, three, url):
    serials = [
        personas.admin.client.post(f"{url}/versions/{s}/rollback").json()["version"]["serial"]
        for s in (1, 2, 1)
    ]
    assert serials == [4, 5, 6]


def test_a_rollback_keeps_the_lineage_of_the_version_rolled_back_to(personas, network, url):
    put_state(personas.writer.client, url, state_bytes(serial=1))
    personas.admin.client.delete(url)
    put_state(personas.writer.client, url, state_bytes(serial=2, lineage=OTHER_LINEAGE))
    version = personas.admin.client.post(f"{url}/versions/1/rollback").json()["version"]
    assert version["lineage"] != OTHER_LINEAGE
    assert json.loads(personas.reader.client.get(url).content)["lineage"] == version["lineage"]


@pytest.mark.parametrize("role", ["reader", "writer"])
def test_only_admins_roll_back(personas, three, url, role):
    response = getattr(personas, role).client.post(f"{url}/versions/1/rollback")
    assert response.status_code == 403
    assert StateVersion.objects.count() == 3
