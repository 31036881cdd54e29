"""Tests for encrypted blob storage (atlas.blobs) and the rotate_keys command.

How rotate_keys finds blobs: it walks `iter_blob_models()`, i.e. every installed
model with a `blob_fields` class attribute. These tests swap that walk for a
test-only model built in an isolated app registry (so no other test ever sees
it) whose table is created and dropped around the test.
"""

import hashlib
import json
import os
import random
import stat
import tracemalloc
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.test.utils import isolate_apps

from accounts.tests.factories import UserFactory, token_for
from atlas import blobs, keys
from atlas.blobs import (
    SEGMENT_SIZE,
    TAG_SIZE,
    BlobCorrupt,
    BlobTooLarge,
    blob_exists,
    delete_blob,
    open_blob,
    read_blob,
    reencrypt_blob,
    write_blob,
)
from atlas.keys import KeyRing, UnknownKey, key_ring, reset_key_ring, write_key_file
from atlas.management.commands import rotate_keys

RECORD = SEGMENT_SIZE + TAG_SIZE


@pytest.fixture(autouse=True)
def blob_dir(settings, tmp_path):
    """Blobs and the key file under tmp_path, a fresh ring per test."""
    location = tmp_path / "blobs"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    settings.ATLAS_KEYS = ""
    settings.ATLAS_KEYS_FILE = str(tmp_path / "keys.json")
    reset_key_ring()
    yield location
    reset_key_ring()


def stored_files(location):
    return sorted(p for p in location.rglob("*") if p.is_file()) if location.exists() else []


def rotate_file_ring(settings):
    """Add a key to the file ring and make it current, as rotate_keys does."""
    old = key_ring()
    ring = old.with_new_key()
    write_key_file(settings.ATLAS_KEYS_FILE, ring)
    reset_key_ring()
    return old, ring


def chunked(data, sizes=(1, 7, 4096, 70000, 200000)):
    rng = random.Random(len(data))
    pos = 0
    while pos < len(data):
        step = rng.choice(sizes)
        yield data[pos : pos + step]
        pos += step


def test_storage_follows_settings(blob_dir):
    storage = blobs.blob_storage()
    assert isinstance(storage, FileSystemStorage)
    assert storage.location == str(blob_dir)
    assert storage is storages["default"]


@pytest.mark.parametrize(
    "size",
    [0, 1, 1000, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE, 5_000_001],
)
def test_roundtrip(size, blob_dir):
    data = os.urandom(size)
    info = write_blob("states/1", chunked(data))
    assert info.name.startswith("states/1/") and len(info.name) == len("states/1/") + 32
    assert info.key_id == key_ring().current
    assert info.size == size
    assert info.md5_hex == hashlib.md5(data).hexdigest()
    assert info.sha256_hex == hashlib.sha256(data).hexdigest()
    assert blob_exists(info.name)
    assert read_blob(info.name, info.key_id) == data
    assert all(0 < len(chunk) <= SEGMENT_SIZE for chunk in open_blob(info.name))
    for group in (2, 3, 16):
        chunks = list(open_blob(info.name, segments_per_read=group))
        assert b"".join(chunks) == data
        assert all(0 < len(chunk) <= group * SEGMENT_SIZE for chunk in chunks)
        assert len(chunks) == -(-size // (group * SEGMENT_SIZE))
    segments = max(1, -(-size // SEGMENT_SIZE))
    header = 4 + 2 + len(info.key_id) + 16 + 7
    assert (blob_dir / info.name).stat().st_size == header + size + segments * TAG_SIZE


def test_whole_body_as_one_chunk_and_empty_chunks():
    data = os.urandom(2 * SEGMENT_SIZE + 5)
    info = write_blob("x", [b"", data, b""])
    assert read_blob(info.name) == data


def test_plaintext_is_not_stored(blob_dir):
    canary = b"CANARY-secret-value-1234567890"
    info = write_blob("states", [b"{" + canary * 5000 + b"}"])
    stored = (blob_dir / info.name).read_bytes()
    assert canary not in stored
    assert canary[:12] not in stored
    assert stored.startswith(b"ATLB\x01")


def test_names_are_unique():
    names = {write_blob("p", [b"same"]).name for _ in range(20)}
    assert len(names) == 20


def test_memory_stays_bounded():
    size = 24 * 1024 * 1024
    chunk = os.urandom(SEGMENT_SIZE)
    tracemalloc.start()
    try:
        info = write_blob("big", (chunk for _ in range(size // SEGMENT_SIZE)))
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        for part in open_blob(info.name):
            digest.update(part)
        _, read_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        grouped = hashlib.sha256()
        for part in open_blob(info.name, segments_per_read=16):
            grouped.update(part)
        _, grouped_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == grouped.hexdigest() == info.sha256_hex
    assert write_peak < 6 * 1024 * 1024
    assert read_peak < 2 * 1024 * 1024
    assert grouped_peak < 6 * 1024 * 1024  # two reads of 16 segments, one joined item


def tampered(blob_dir, name, change):
    path = blob_dir / name
    path.write_bytes(change(path.read_bytes()))


def header_size(name):
    return 4 + 2 + len(key_ring().current) + 16 + 7


@pytest.mark.parametrize("where", ["salt", "segment", "tag", "last"])
@pytest.mark.parametrize("group", [1, 16])
def test_flipped_byte_is_detected(blob_dir, where, group):
    info = write_blob("t", [os.urandom(3 * SEGMENT_SIZE + 10)])
    head = header_size(info.name)
    offset = {"salt": head - 20, "segment": head + 100, "tag": head + RECORD - 1, "last": -1}
    offset = offset[where]

    def flip(data):
        data = bytearray(data)
        data[offset] ^= 0x01
        return bytes(data)

    tampered(blob_dir, info.name, flip)
    with pytest.raises(BlobCorrupt):
        b"".join(open_blob(info.name, segments_per_read=group))


def test_corruption_surfaces_only_when_reached(blob_dir):
    data = os.urandom(3 * SEGMENT_SIZE)
    info = write_blob("t", [data])
    tampered(blob_dir, info.name, lambda d: d[:-1] + bytes([d[-1] ^ 1]))
    chunks = open_blob(info.name)
    assert next(chunks) == data[:SEGMENT_SIZE]
    with pytest.raises(BlobCorrupt):
        list(chunks)


def swap_first_segments(data, head):
    one, two = data[head : head + RECORD], data[head + RECORD : head + 2 * RECORD]
    return data[:head] + two + one + data[head + 2 * RECORD :]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d, h: d[: h + 4 * RECORD], id="drop-last-segment"),
        pytest.param(lambda d, h: d[:-5], id="cut-last-segment"),
        pytest.param(lambda d, h: d[: h + RECORD], id="keep-first-segment"),
        pytest.param(lambda d, h: d[:h], id="header-only"),
        pytest.param(lambda d, h: d[: h - 3], id="cut-header"),
        pytest.param(lambda d, h: b"", id="empty"),
        pytest.param(lambda d, h: d + d[h : h + RECORD], id="append-segment"),
        pytest.param(lambda d, h: swap_first_segments(d, h), id="swap-segments"),
        pytest.param(lambda d, h: b"XXXX" + d[4:], id="magic"),
        pytest.param(lambda d, h: d[:4] + b"\x02" + d[5:], id="version"),
    ],
)
@pytest.mark.parametrize("group", [1, 2, 5, 16])
def test_truncation_and_reordering_are_detected(blob_dir, change, group):
    info = write_blob("t", [os.urandom(4 * SEGMENT_SIZE + 100)])
    head = header_size(info.name)
    tampered(blob_dir, info.name, lambda d: change(d, head))
    with pytest.raises(BlobCorrupt):
        b"".join(open_blob(info.name, segments_per_read=group))


def test_segments_of_another_blob_are_rejected(blob_dir):
    one = write_blob("t", [os.urandom(SEGMENT_SIZE)])
    two = write_blob("t", [os.urandom(SEGMENT_SIZE)])
    head = header_size(one.name)
    body_two = (blob_dir / two.name).read_bytes()[head:]
    tampered(blob_dir, one.name, lambda d: d[:head] + body_two)
    with pytest.raises(BlobCorrupt):
        read_blob(one.name)


def test_expected_key_id_must_match():
    info = write_blob("t", [b"data"])
    with pytest.raises(BlobCorrupt):
        read_blob(info.name, "k-other")


def test_too_large_stores_nothing_and_stops_reading(blob_dir):
    consumed = []

    def body():
        for i in range(100):
            consumed.append(i)
            yield b"x" * 1000

    with pytest.raises(BlobTooLarge) as raised:
        write_blob("states", body(), max_bytes=10_500)
    assert raised.value.limit == 10_500
    assert len(consumed) == 11
    assert stored_files(blob_dir) == []
    info = write_blob("states", [b"x" * 10_500], max_bytes=10_500)
    assert info.size == 10_500


def test_failing_body_stores_nothing(blob_dir):
    def body():
        yield os.urandom(3 * SEGMENT_SIZE)
        raise OSError("client went away")

    with pytest.raises(OSError):
        write_blob("states", body())
    assert stored_files(blob_dir) == []


def test_failing_save_stores_nothing(blob_dir, monkeypatch):
    def broken_save(name, spool):
        raise OSError("disk full")

    monkeypatch.setattr(blobs, "_save", broken_save)
    with pytest.raises(OSError):
        write_blob("states", [b"data"])
    assert stored_files(blob_dir) == []


def test_missing_blob():
    with pytest.raises(FileNotFoundError):
        open_blob("states/does-not-exist")
    assert not blob_exists("states/does-not-exist")
    delete_blob("states/does-not-exist")
    delete_blob("")


def test_delete(blob_dir):
    info = write_blob("t", [b"data"])
    delete_blob(info.name)
    assert not blob_exists(info.name)
    assert stored_files(blob_dir) == []


def test_old_key_still_decrypts_after_rotation(settings):
    data = os.urandom(100_000)
    before = write_blob("t", [data])
    old, ring = rotate_file_ring(settings)
    after = write_blob("t", [data])
    assert (before.key_id, after.key_id) == (old.current, ring.current)
    assert read_blob(before.name, before.key_id) == data
    assert read_blob(after.name, after.key_id) == data


def test_missing_key_is_unknown(settings):
    info = write_blob("t", [b"data"])
    other = KeyRing("kother", {"kother": os.urandom(32)})
    write_key_file(settings.ATLAS_KEYS_FILE, other)
    reset_key_ring()
    with pytest.raises(UnknownKey):
        open_blob(info.name)


def test_a_key_read_once_is_derived_once_and_still_needs_its_master(settings):
    """Reads keep the blob's derived key; writes (a fresh salt each) do not,
    and a master key gone from the ring is still missing for a kept one."""
    blobs._read_cipher.cache_clear()
    info = write_blob("t", [b"data"])
    assert blobs._read_cipher.cache_info().currsize == 0
    assert read_blob(info.name) == read_blob(info.name) == b"data"
    assert blobs._read_cipher.cache_info()[:2] == (1, 1)  # one hit, one derivation
    other = KeyRing("kother", {"kother": os.urandom(32)})
    write_key_file(settings.ATLAS_KEYS_FILE, other)
    reset_key_ring()
    with pytest.raises(UnknownKey):
        open_blob(info.name)


def test_stale_ring_reads_key_file_again(settings, monkeypatch):
    """Another process rotated the key file: the blob's key is found there."""
    old, _ring = rotate_file_ring(settings)
    info = write_blob("t", [b"data"])
    monkeypatch.setattr(keys, "_ring", old)
    assert read_blob(info.name) == b"data"


def test_reencrypt_blob(settings, blob_dir):
    data = os.urandom(SEGMENT_SIZE * 2 + 3)
    info = write_blob("states/9", [data])
    _old, ring = rotate_file_ring(settings)
    new_name, new_key_id = reencrypt_blob(info.name)
    assert new_key_id == ring.current != info.key_id
    assert new_name != info.name and new_name.startswith("states/9/")
    assert read_blob(new_name, new_key_id) == data
    assert read_blob(info.name, info.key_id) == data  # the caller deletes the old one


# rotate_keys: the key file


@pytest.fixture
def no_blob_models(monkeypatch):
    monkeypatch.setattr(rotate_keys, "iter_blob_models", lambda: iter(()))
    monkeypatch.setattr(rotate_keys, "sealed_value_handlers", lambda: {})


def read_ring(path):
    return KeyRing.from_json(Path(path).read_text())


def test_rotate_adds_a_current_key_to_the_file(settings, no_blob_models):
    old = key_ring()
    call_command("rotate_keys", stdout=StringIO())
    ring = read_ring(settings.ATLAS_KEYS_FILE)
    assert ring.current != old.current
    assert set(ring.keys) == {old.current, ring.current}
    assert ring.keys[old.current] == old.keys[old.current]
    assert key_ring().current == ring.current
    assert stat.S_IMODE(os.stat(settings.ATLAS_KEYS_FILE).st_mode) == 0o600


def test_rotate_refuses_environment_ring(settings, tmp_path, no_blob_models):
    ring = KeyRing("kenv", {"kenv": os.urandom(32)})
    settings.ATLAS_KEYS = ring.to_json()
    reset_key_ring()
    with pytest.raises(CommandError, match="ATLAS_KEYS"):
        call_command("rotate_keys")
    out = tmp_path / "new-ring.json"
    call_command("rotate_keys", ring_json_out=str(out), stdout=StringIO())
    written = read_ring(out)
    assert written.current != "kenv" and set(written.keys) == {"kenv", written.current}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert key_ring().current == "kenv"
    assert not os.path.exists(settings.ATLAS_KEYS_FILE)


def test_retire(settings, no_blob_models, db):
    tokens_made_before = [token_for(UserFactory()) for _ in range(3)]
    old, ring = rotate_file_ring(settings)
    with pytest.raises(CommandError, match="current"):
        call_command("rotate_keys", retire=ring.current)
    with pytest.raises(CommandError, match="no key"):
        call_command("rotate_keys", retire="knope")
    out = StringIO()
    with pytest.raises(CommandError, match="--force"):
        call_command("rotate_keys", retire=old.current, stdout=out)
    assert f"{len(tokens_made_before)} API tokens still use key {old.current!r}" in out.getvalue()
    assert set(read_ring(settings.ATLAS_KEYS_FILE).keys) == {old.current, ring.current}
    call_command("rotate_keys", retire=old.current, force=True, stdout=StringIO())
    assert set(read_ring(settings.ATLAS_KEYS_FILE).keys) == {ring.current}
    assert json.loads(Path(settings.ATLAS_KEYS_FILE).read_text())["current"] == ring.current


# rotate_keys: end to end with a test-only blob-owning model


@pytest.fixture
def owner_model(transactional_db, monkeypatch):
    with isolate_apps("atlas"):

        class BlobOwner(models.Model):
            body = models.CharField(max_length=200, blank=True)
            body_key_id = models.CharField(max_length=32, blank=True)
            blob_fields = [("body", "body_key_id")]

            class Meta:
                app_label = "atlas"

            def __str__(self):
                return self.body

    with connection.schema_editor() as editor:
        editor.create_model(BlobOwner)
    monkeypatch.setattr(
        rotate_keys, "iter_blob_models", lambda: iter([(BlobOwner, "body", "body_key_id")])
    )
    yield BlobOwner
    with connection.schema_editor() as editor:
        editor.delete_model(BlobOwner)


def own(model, data):
    info = write_blob("owned", [data])
    return model.objects.create(body=info.name, body_key_id=info.key_id)


def test_rotate_reencrypts_rows(settings, owner_model, blob_dir):
    quiet = StringIO()
    bodies = [os.urandom(n) for n in (0, 10, SEGMENT_SIZE * 2 + 1)]
    rows = [own(owner_model, body) for body in bodies]
    empty = owner_model.objects.create()
    old_names = {row.body for row in rows}
    old_key = rows[0].body_key_id

    call_command("rotate_keys", stdout=quiet)
    current = key_ring().current
    assert current != old_key
    for row, body in zip(rows, bodies, strict=True):
        row.refresh_from_db()
        assert row.body_key_id == current and row.body not in old_names
        assert read_blob(row.body, row.body_key_id) == body
    empty.refresh_from_db()
    assert (empty.body, empty.body_key_id) == ("", "")
    assert len(stored_files(blob_dir)) == len(rows)
    assert not any(blob_exists(name) for name in old_names)

    call_command("rotate_keys", retire=old_key, stdout=quiet)
    assert set(read_ring(settings.ATLAS_KEYS_FILE).keys) == {current}


def test_retire_refuses_key_in_use_and_reencrypt_only_finishes(settings, owner_model):
    quiet = StringIO()
    row = own(owner_model, b"state")
    old, ring = rotate_file_ring(settings)
    with pytest.raises(CommandError, match="1 blobs or sealed values still use"):
        call_command("rotate_keys", retire=old.current, stdout=quiet)
    call_command("rotate_keys", reencrypt_only=True, stdout=quiet)
    assert read_ring(settings.ATLAS_KEYS_FILE).current == ring.current
    row.refresh_from_db()
    assert row.body_key_id == ring.current and read_blob(row.body) == b"state"
    call_command("rotate_keys", retire=old.current, stdout=quiet)


def test_rotate_reports_failures_and_goes_on(settings, owner_model):
    lost = own(owner_model, b"lost")
    delete_blob(lost.body)
    kept = own(owner_model, b"kept")
    with pytest.raises(CommandError, match="1 blobs could not"):
        call_command("rotate_keys", stdout=StringIO(), stderr=StringIO())
    kept.refresh_from_db()
    assert kept.body_key_id == key_ring().current and read_blob(kept.body) == b"kept"
    lost.refresh_from_db()
    assert lost.body_key_id != key_ring().current


def test_row_changed_meanwhile_keeps_its_blob(settings, owner_model, monkeypatch, blob_dir):
    row = own(owner_model, b"old state")
    original = row.body
    rotate_file_ring(settings)
    replacement = write_blob("owned", [b"new state"])

    def reencrypt_while_row_changes(name):
        result = reencrypt_blob(name)
        owner_model.objects.filter(pk=row.pk).update(
            body=replacement.name, body_key_id=replacement.key_id
        )
        return result

    monkeypatch.setattr(rotate_keys, "reencrypt_blob", reencrypt_while_row_changes)
    outcome = rotate_keys.reencrypt_row(owner_model, row.pk, "body", "body_key_id")
    assert outcome == "changed meanwhile"
    row.refresh_from_db()
    assert row.body == replacement.name
    # The copy made for the swap is gone; the owner deletes its own old blob.
    names = {p.relative_to(blob_dir).as_posix() for p in stored_files(blob_dir)}
    assert names == {original, replacement.name}
