"""State is a secret at rest: neither the database nor the blob store reveals it."""

import pytest
from django.core.management import call_command
from django.db import connection

from atlas.keys import key_ring
from states.models import StateVersion

from .factories import put_state, state_bytes

CANARY = "canary-7f3c9a1e-never-in-clear"


def database_bytes(tmp_path):
    """Everything the database holds, as bytes: its file on SQLite, every row elsewhere."""
    if connection.vendor == "sqlite":
        copy = tmp_path / "copy.sqlite3"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(copy)])
        return copy.read_bytes()
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            rows.extend(row[0] for row in cursor.fetchall())
    return "\n".join(rows).encode()


@pytest.mark.django_db(transaction=True)
def test_a_canary_is_in_neither_the_database_nor_the_blob_directory(
    personas, isolated_data, tmp_path
):
    url = "/api/v1/terraform/state/acme/secrets"
    body = state_bytes(
        serial=1,
        outputs={"password": (CANARY, True), "plain": f"also {CANARY}"},
        resources={"aws_db_instance.main": {"id": "db-1", "password": CANARY}},
    )
    assert put_state(personas.writer.client, f"{url}?atlas_run_id=run-1", body).status_code == 200
    assert personas.admin.client.post(f"{url}/versions/1/rollback").status_code == 200
    assert CANARY.encode() in personas.reader.client.get(url).content  # it is stored...

    database = database_bytes(tmp_path)
    assert b"acme" in database  # ...the dump holds the data,
    assert CANARY.encode() not in database  # but not the state
    blob_files = [p for p in isolated_data.blobs.rglob("*") if p.is_file()]
    assert len(blob_files) == 2
    for path in blob_files:
        assert CANARY.encode() not in path.read_bytes()
        assert b'"serial"' not in path.read_bytes()


def test_each_version_records_the_key_its_blob_is_encrypted_with(personas, network, url):
    put_state(personas.writer.client, url, state_bytes(serial=1))
    assert StateVersion.objects.get().blob_key_id == key_ring().current


def test_key_rotation_re_encrypts_state_and_it_still_reads(personas, network, url):
    body = state_bytes(serial=1, outputs={"ip": "10.0.0.1"})
    put_state(personas.writer.client, url, body)
    before = StateVersion.objects.get()
    call_command("rotate_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = StateVersion.objects.get()
    assert after.blob_key_id == key_ring().current != before.blob_key_id
    assert after.blob_name != before.blob_name
    response = personas.reader.client.get(url)
    assert response.content == body
    assert response["Content-MD5"]
