"""Encrypted blobs in an S3-compatible bucket (a real moto server process)."""

import uuid

import pytest

from atlas import blobs
from atlas.testing.s3 import create_bucket, s3_storage_settings

pytestmark = pytest.mark.django_db

CANARY = b"canary-9f8e7d6c5b4a"


@pytest.fixture
def bucket(s3_server, settings):
    name = f"atlas-{uuid.uuid4().hex[:12]}"
    client = create_bucket(s3_server, name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage_settings(s3_server, name, "blobs"),
    }
    return client, name


def _objects(client, name):
    listing = client.list_objects_v2(Bucket=name).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=name, Key=item["Key"])["Body"].read()
        for item in listing
    }


def test_a_blob_round_trips_through_the_bucket_encrypted(bucket):
    """Written in pieces, read back streamed from the object's body: more
    than three segments, the last one short."""
    client, name = bucket
    body = b"{" + CANARY + b"}" + b"x" * (3 * blobs.SEGMENT_SIZE + 1000)
    info = blobs.write_blob("states/1", [body[i : i + 7000] for i in range(0, len(body), 7000)])
    assert info.size == len(body)
    assert blobs.read_blob(info.name, info.key_id) == body
    stored = _objects(client, name)
    assert list(stored) == [f"blobs/{info.name}"]
    assert CANARY not in stored[f"blobs/{info.name}"]
    blobs.delete_blob(info.name)
    assert _objects(client, name) == {}


def test_a_tampered_object_in_the_bucket_is_detected(bucket):
    client, name = bucket
    info = blobs.write_blob("plans/1", [b"plan bytes" * 1000])
    key = f"blobs/{info.name}"
    raw = bytearray(client.get_object(Bucket=name, Key=key)["Body"].read())
    raw[-5] ^= 1
    client.put_object(Bucket=name, Key=key, Body=bytes(raw))
    with pytest.raises(blobs.BlobCorrupt):
        blobs.read_blob(info.name, info.key_id)


def test_a_too_large_body_leaves_nothing_in_the_bucket(bucket):
    client, name = bucket
    with pytest.raises(blobs.BlobTooLarge):
        blobs.write_blob("states/1", [b"x" * 1024] * 10, max_bytes=5000)
    assert _objects(client, name) == {}
