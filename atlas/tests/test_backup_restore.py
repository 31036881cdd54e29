"""The backup and restore of docs/operations.md, step by step.

Database (pg_dump), blobs (the bucket's objects) and keys (the key ring and
SECRET_KEY) are copied as the document says; a web server started on the
restored copies serves the same state bytes, the same history, the same
tokens, and decrypts the same variables.
"""

import subprocess
import uuid
from pathlib import Path

import pytest

from atlas.testing.cluster import (
    Cluster,
    PrivatePostgres,
    call,
    history,
    postgres_bin_dir,
    state_body,
)
from atlas.testing.cluster import put_state as put
from atlas.testing.s3 import create_bucket

pytestmark = pytest.mark.system

CANARY = "restore-canary-5e1f"
DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


@pytest.fixture
def postgres():
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
    server = PrivatePostgres(bin_dir).init()
    server.start()
    yield server
    server.destroy()


def _copy_bucket(client, source, target):
    """What `aws s3 sync s3://source s3://target` does, for the test's moto server."""
    for item in client.list_objects_v2(Bucket=source).get("Contents", []):
        client.copy_object(
            Bucket=target, Key=item["Key"], CopySource={"Bucket": source, "Key": item["Key"]}
        )


def test_a_restored_backup_serves_the_same_state_tokens_and_secrets(postgres, s3_server, tmp_path):
    live_bucket, backup_bucket = (f"atlas-{uuid.uuid4().hex[:12]}" for _ in range(2))
    s3 = create_bucket(s3_server, live_bucket)
    live = Cluster(tmp_path / "live", postgres.create_database("live"), s3_server, live_bucket)
    live.migrate()
    token = live.token = live.create_user("ops", ["acme"])
    web = live.start_web()
    for serial in (1, 2):
        assert put(web.url, token, "acme/network", state_body(serial, "L", ip=CANARY)).status == 200
    answer = call(
        "PUT",
        f"{web.url}/api/v1/environments/acme/network/variables",
        token,
        {"variables": {"db_password": "hunter2"}},
    )
    assert answer.status == 200
    head = call("GET", f"{web.url}/api/v1/terraform/state/acme/network", token).body
    versions = history(web.url, token, "acme/network")

    # Back up: the database first, then the blobs, and the keys.
    dump = tmp_path / "atlas.dump"
    subprocess.run(
        [postgres.tool("pg_dump"), "--format=custom", f"--file={dump}", live.database_url],
        check=True, timeout=120,
    )  # fmt: skip
    s3.create_bucket(Bucket=backup_bucket)
    _copy_bucket(s3, live_bucket, backup_bucket)
    live.stop()

    # Restore into a new database and a new bucket, with the same keys.
    restored_url = postgres.create_database("restored")
    subprocess.run(
        [postgres.tool("pg_restore"), "--no-owner", f"--dbname={restored_url}", str(dump)],
        check=True, timeout=120,
    )  # fmt: skip
    restored_bucket = f"atlas-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=restored_bucket)
    _copy_bucket(s3, backup_bucket, restored_bucket)
    restored = Cluster(
        tmp_path / "restored", restored_url, s3_server, restored_bucket,
        keys=live.keys, secret_key=live.secret_key,
    )  # fmt: skip
    try:
        restored.migrate()
        web = restored.start_web()
        answer = call("GET", f"{web.url}/api/v1/terraform/state/acme/network", token)
        assert answer.status == 200
        assert answer.body == head
        assert history(web.url, token, "acme/network") == versions
        script = (
            "from environments.crypto import open_variable\n"
            "from environments.models import Variable\n"
            "print(open_variable(Variable.objects.get(key='db_password')))\n"
        )
        assert restored.manage("shell", "-c", script).strip().splitlines()[-1] == "hunter2"
    finally:
        restored.stop()


def test_the_document_gives_the_steps_this_test_takes():
    text = DOCUMENT.read_text()
    for step in (
        'pg_dump --format=custom --file=atlas.dump "$DATABASE_URL"',
        'pg_restore --no-owner --dbname="$DATABASE_URL" atlas.dump',
        "aws s3 sync s3://atlas-blobs s3://atlas-backup/",
        "aws s3 sync s3://atlas-backup/2026-11-28/ s3://atlas-blobs",
        "the same `ATLAS_KEYS` and `SECRET_KEY`",
    ):
        assert step in text, step
