"""Terraform's `http` backend at the environment's state URL: read, write,
LOCK/UNLOCK and GitLab's POST/DELETE `.../lock`, the one lock, and the
three ways a token may arrive."""

import base64
import json

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import token_for
from environments import services as environment_services
from environments.models import Environment, LockKind
from states.models import Door, EnvironmentState, StateVersion

from .factories import md5_b64, put_state, state_bytes

LOCK_ID = "2b7e5c8a-7d1f-4f0e-9a43-0c1d2e3f4a5b"


def lock_info(lock_id=LOCK_ID, who="writer@laptop", operation="OperationTypeApply"):
    return {
        "ID": lock_id,
        "Operation": operation,
        "Info": "",
        "Who": who,
        "Version": "1.6.6",
        "Created": "2026-12-01T10:00:00.123456789Z",
        "Path": "",
    }


def send(client, method, url, body=None):
    data = b"" if body is None else json.dumps(body).encode()
    return client.generic(method, url, data, content_type="application/json")


def post_state(client, url, body, lock_id=None):
    target = f"{url}?ID={lock_id}" if lock_id else url
    return client.post(
        target, body, content_type="application/json", HTTP_CONTENT_MD5=md5_b64(body)
    )


def basic(username, token):
    client = APIClient()
    raw = base64.b64encode(f"{username}:{token}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {raw}")
    return client


def bearer(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def head_serial(environment):
    state = EnvironmentState.objects.select_related("head").get(pk=environment.pk)
    return state.head.serial if state.head else None


def test_basic_auth_with_the_owner_s_name_and_bearer_both_read_the_state(personas, network, url):
    put_state(personas.writer.client, url, state_bytes(serial=1))
    assert basic("reader", personas.reader.token).get(url).status_code == 200
    assert basic("READER", personas.reader.token).get(url).status_code == 200
    assert bearer(personas.reader.token).get(url).status_code == 200


def test_basic_auth_under_another_username_is_refused_like_a_bad_token(personas, network, url):
    response = basic("writer", personas.reader.token).get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="atlas"'
    assert response.json()["errors"]["base"][0].startswith("Invalid or missing API token")
    assert bearer("not-a-token").get(url).status_code == 401


def test_post_writes_the_state_through_the_http_door_and_records_it(personas, network, url):
    body = state_bytes(serial=1)
    response = post_state(basic("writer", personas.writer.token), url, body)
    assert response.status_code == 200
    version = StateVersion.objects.get(environment=network)
    assert (version.serial, version.door, version.terraform_version) == (1, Door.HTTP, "0.11.11")
    assert version.created_by == personas.writer.user


def test_lock_takes_the_one_lock_and_a_second_lock_gets_the_holder_s_lock_info(
    personas, network, url
):
    writer = basic("writer", personas.writer.token)
    response = send(writer, "LOCK", url, lock_info())
    assert response.status_code == 200
    network.refresh_from_db()
    assert (network.locked, network.lock_kind, network.lock_id, network.locked_by) == (
        True,
        LockKind.HTTP,
        LOCK_ID,
        personas.writer.user,
    )
    assert network.lock_operation == "OperationTypeApply"
    assert network.lock_client == "Terraform 1.6.6"
    refused = send(basic("admin", personas.admin.token), "LOCK", url, lock_info("other-id"))
    assert refused.status_code == 409
    assert refused.json() == lock_info()


def test_a_retried_lock_of_the_held_lock_succeeds(personas, network, url):
    writer = basic("writer", personas.writer.token)
    assert send(writer, "LOCK", url, lock_info()).status_code == 200
    assert send(writer, "LOCK", url, lock_info()).status_code == 200


def test_lock_creates_the_environment_on_first_use_for_a_writer(personas, url):
    response = send(basic("writer", personas.writer.token), "LOCK", url, lock_info())
    assert response.status_code == 200
    assert Environment.objects.get(name="network").locked


def test_while_a_client_holds_the_lock_writes_need_its_id_from_every_door(personas, network, url):
    writer = basic("writer", personas.writer.token)
    send(writer, "LOCK", url, lock_info())
    without = post_state(writer, url, state_bytes(serial=1))
    assert without.status_code == 409
    message = without.json()["errors"]["base"][0]
    assert "locked by writer through Terraform's http backend (Terraform 1.6.6)" in message
    assert LOCK_ID in message
    atlas = put_state(personas.admin.client, url, state_bytes(serial=1))
    assert atlas.status_code == 409
    wrong = post_state(writer, url, state_bytes(serial=1), lock_id="not-the-lock")
    assert wrong.status_code == 409
    assert not StateVersion.objects.exists()
    assert post_state(writer, url, state_bytes(serial=1), lock_id=LOCK_ID).status_code == 200
    assert head_serial(network) == 1


def test_a_write_with_an_id_while_nothing_is_locked_is_refused(personas, network, url):
    response = post_state(personas.writer.client, url, state_bytes(serial=1), lock_id=LOCK_ID)
    assert response.status_code == 409
    assert "not locked" in response.json()["errors"]["base"][0]
    assert not StateVersion.objects.exists()


def test_the_conflict_rule_applies_to_the_http_door(personas, network, url):
    post_state(personas.writer.client, url, state_bytes(serial=2))
    stale = post_state(personas.writer.client, url, state_bytes(serial=1))
    assert stale.status_code == 409
    assert "lower than the stored serial 2" in stale.json()["errors"]["base"][0]


def test_the_holder_unlocks_with_its_lock_info_and_the_queue_is_told(
    personas, network, url, monkeypatch
):
    told = []
    monkeypatch.setattr(
        "environments.hooks.environment_unlocked", lambda environment: told.append(environment.pk)
    )
    writer = basic("writer", personas.writer.token)
    send(writer, "LOCK", url, lock_info())
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = send(writer, "UNLOCK", url, lock_info())
    assert response.status_code == 200
    network.refresh_from_db()
    assert (network.locked, network.lock_kind, network.lock_id, network.lock_info) == (
        False,
        "",
        "",
        None,
    )
    assert told == [network.pk]


def test_a_stale_unlock_with_another_lock_s_info_is_refused_with_the_holder(personas, network, url):
    send(basic("writer", personas.writer.token), "LOCK", url, lock_info())
    response = send(basic("admin", personas.admin.token), "UNLOCK", url, lock_info("old-id"))
    assert response.status_code == 409
    assert response.json()["ID"] == LOCK_ID
    assert Environment.objects.get(pk=network.pk).locked


@pytest.mark.parametrize(
    "body", [None, {**lock_info(), "Created": "0001-01-01T00:00:00Z", "Who": ""}]
)
def test_force_unlock_needs_admin_unless_it_is_the_holder_s_own(personas, network, url, body):
    """Terraform's force-unlock sends no body, OpenTofu's a zero LockInfo."""
    other = token_for(personas.writer.user)
    send(basic("writer", personas.writer.token), "LOCK", url, lock_info())
    admin_token = token_for(personas.admin.user)
    refused = send(basic("reader", personas.reader.token), "UNLOCK", url, body)
    assert refused.status_code == 403
    assert Environment.objects.get(pk=network.pk).locked
    # The holder's own force-unlock (another token, same person) releases it.
    assert send(basic("writer", other), "UNLOCK", url, body).status_code == 200
    send(basic("writer", personas.writer.token), "LOCK", url, lock_info())
    assert send(basic("admin", admin_token), "UNLOCK", url, body).status_code == 200
    assert not Environment.objects.get(pk=network.pk).locked


def test_a_writer_who_does_not_hold_the_lock_cannot_force_it(personas, network, url, db):
    from accounts.models import Level
    from accounts.tests.factories import UserFactory, member

    second = UserFactory(username="second")
    member(personas.org, second, Level.WRITE)
    send(basic("writer", personas.writer.token), "LOCK", url, lock_info())
    response = send(basic("second", token_for(second)), "UNLOCK", url, None)
    assert response.status_code == 403
    assert response.json() == {"errors": {"base": ["You need admin access to this namespace."]}}


def test_gitlab_style_post_and_delete_of_the_lock_url(personas, network, url):
    writer = basic("writer", personas.writer.token)
    assert send(writer, "POST", f"{url}/lock", lock_info()).status_code == 200
    conflict = send(basic("admin", personas.admin.token), "POST", f"{url}/lock", lock_info("x"))
    assert conflict.status_code == 409
    assert conflict.json()["Who"] == "writer@laptop"
    assert post_state(writer, url, state_bytes(serial=1), lock_id=LOCK_ID).status_code == 200
    assert send(writer, "DELETE", f"{url}/lock", lock_info()).status_code == 200
    assert not Environment.objects.get(pk=network.pk).locked


def test_a_manual_lock_or_a_run_is_answered_as_lock_info_terraform_can_parse(
    personas, network, url
):
    environment_services.lock_environment(network, personas.admin.user, "maintenance")
    response = send(basic("writer", personas.writer.token), "LOCK", url, lock_info())
    assert response.status_code == 409
    info = response.json()
    assert set(info) == {"ID", "Operation", "Info", "Who", "Version", "Created", "Path"}
    assert info["Info"] == "maintenance"
    assert info["Who"] == "admin"
    assert info["Created"].endswith("Z") and info["Created"][:4].isdigit()


def test_reading_needs_read_locking_needs_write(personas, network, url):
    reader = basic("reader", personas.reader.token)
    assert send(reader, "LOCK", url, lock_info()).status_code == 403
    outsider = basic("outsider", personas.outsider.token)
    assert send(outsider, "LOCK", url, lock_info()).status_code == 404
    read_only = token_for(personas.writer.user, read_only=True)
    response = send(basic("writer", read_only), "LOCK", url, lock_info())
    assert response.status_code == 403
    assert response.json() == {"errors": {"base": ["This token is read-only."]}}
    assert APIClient().generic("LOCK", url, b"{}").status_code == 401


def test_a_lock_without_a_lock_info_is_400(personas, network, url):
    writer = basic("writer", personas.writer.token)
    assert send(writer, "LOCK", url, None).status_code == 400
    assert send(writer, "LOCK", url, {"Operation": "x"}).status_code == 400
    assert not Environment.objects.get(pk=network.pk).locked


def test_the_holder_s_lock_holds_the_run_queue(personas, network, url):
    from runs.queue import advance

    send(basic("writer", personas.writer.token), "LOCK", url, lock_info())
    assert advance(network.pk) is None
