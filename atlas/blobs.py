"""Encrypted blob storage: state bodies, configuration archives, plan files.

Blobs are secrets, so they are encrypted before they reach the storage
backend (local disk or S3) with AES-256-GCM in the STREAM construction (as in
Tink's AES-GCM-HKDF streaming AEAD): the plaintext is cut into 64 KiB
segments, each sealed on its own, so bodies of 100 MB and more are written and
read in O(segment) memory and every segment is verified before it is yielded.

Format (all integers big-endian)::

    header  = b"ATLB" | version (1) | len(key id) (1) | key id | salt (16) | nonce prefix (7)
    segment = AES-GCM(plaintext, nonce, ad) | tag (16), plaintext 64 KiB except the last
    nonce   = nonce prefix | segment index (4) | final flag (1)
    ad      = header | segment index (4) | final flag (1)

The AES key is HKDF(key_ring().derive("blob", key id), salt), a fresh key per
blob, so random nonce prefixes never have to be unique across blobs. Index and
final flag bind each segment to its position: reordering, swapping, dropping
the last segments or appending any is detected, as is any change to the header.

The key id sits in the header and is returned in `BlobInfo` so the owning row
stores it too: `rotate_keys` finds blobs to re-encrypt by querying those rows.
Models that own blobs declare ``blob_fields = [("<name field>", "<key id field>")]``.
"""

import functools
import hashlib
import os
import struct
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages

from atlas.keys import UnknownKey, key_ring, reset_key_ring

MAGIC = b"ATLB"
VERSION = 1
PURPOSE = "blob"
SEGMENT_SIZE = 64 * 1024
TAG_SIZE = 16
SALT_SIZE = 16
NONCE_PREFIX_SIZE = 7
MAX_SEGMENTS = 2**32
SPOOL_MAX_MEMORY = 1024 * 1024


class BlobError(Exception):
    """Base class for blob failures."""


class BlobCorrupt(BlobError):
    """The stored bytes are not a blob this server wrote: tampered, truncated, mixed up."""


class BlobTooLarge(BlobError):
    """The plaintext exceeds the caller's limit; nothing was stored."""

    def __init__(self, limit):
        super().__init__(f"The body exceeds the limit of {limit} bytes.")
        self.limit = limit


@dataclass(frozen=True)
class BlobInfo:
    """Where a blob was stored, under which key, and digests of its plaintext."""

    name: str
    key_id: str
    size: int
    md5_hex: str
    sha256_hex: str


def blob_storage():
    """The storage backend, looked up on each call (tests swap STORAGES)."""
    return storages["default"]


class _Segments:
    """Seals or opens the segments of one blob (see the module docstring)."""

    def __init__(self, header, aead, nonce_prefix):
        self.header = header
        self.nonce_prefix = nonce_prefix
        self.aead = aead

    def _position(self, index, final):
        if index >= MAX_SEGMENTS:
            raise BlobError("Too many segments in one blob.")
        position = struct.pack(">IB", index, 1 if final else 0)
        return self.nonce_prefix + position, self.header + position

    def seal(self, index, plaintext, final):
        nonce, ad = self._position(index, final)
        return self.aead.encrypt(nonce, plaintext, ad)

    def open(self, index, record, final):
        nonce, ad = self._position(index, final)
        try:
            return self.aead.decrypt(nonce, record, ad)
        except InvalidTag:
            raise BlobCorrupt(f"Segment {index} failed authentication.") from None


def _blob_cipher(master, salt):
    """The AEAD of one blob: its own key, HKDF of the master key and its salt."""
    key = HKDF(hashes.SHA256(), length=32, salt=salt, info=b"atlas:blob:v1").derive(master)
    return AESGCM(key)


# Deriving a blob's key costs 6 µs, a fifth of reading a small blob: the
# keys of the blobs read last are kept, as the master keys they come from
# are (which must still be in the ring: `_master_key` is asked first). Only
# reads use it: every write has a fresh salt.
_read_cipher = functools.lru_cache(maxsize=1024)(_blob_cipher)


def _master_key(key_id):
    try:
        return key_ring().derive(PURPOSE, key_id)
    except UnknownKey:
        # `rotate_keys` may have added the key to the key file after this
        # process read it: read the ring again once before giving up.
        reset_key_ring()
        return key_ring().derive(PURPOSE, key_id)


def _new_name(prefix):
    prefix = prefix.strip("/")
    return f"{prefix}/{uuid.uuid4().hex}" if prefix else uuid.uuid4().hex


def write_blob(prefix: str, chunks: Iterable[bytes], *, max_bytes: int | None = None) -> BlobInfo:
    """Encrypt and store the plaintext `chunks` under a new name beneath `prefix`.

    Chunks are consumed one at a time and never joined. The ciphertext goes
    to a spooled temporary file (memory up to 1 MiB, then disk: it is already
    encrypted) and reaches storage in one `save`, so a failure or BlobTooLarge
    at any point leaves nothing in storage.
    """
    key_id = key_ring().current
    encoded_id = key_id.encode()
    if not 0 < len(encoded_id) < 256:
        raise BlobError(f"Key id {key_id!r} cannot be stored in a blob header.")
    salt, nonce_prefix = os.urandom(SALT_SIZE), os.urandom(NONCE_PREFIX_SIZE)
    header = MAGIC + bytes([VERSION, len(encoded_id)]) + encoded_id + salt + nonce_prefix
    segments = _Segments(header, _blob_cipher(_master_key(key_id), salt), nonce_prefix)
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = index = 0
    name = _new_name(prefix)
    with tempfile.SpooledTemporaryFile(
        max_size=SPOOL_MAX_MEMORY, dir=settings.FILE_UPLOAD_TEMP_DIR
    ) as spool:
        spool.write(header)
        pending = bytearray()
        for chunk in chunks:
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise BlobTooLarge(max_bytes)
            md5.update(chunk)
            sha256.update(chunk)
            pending += chunk
            # Seal only segments known not to be the last: more bytes follow.
            start = 0
            while len(pending) - start > SEGMENT_SIZE:
                end = start + SEGMENT_SIZE
                spool.write(segments.seal(index, pending[start:end], final=False))
                index, start = index + 1, end
            del pending[:start]
        spool.write(segments.seal(index, pending, final=True))
        _save(name, spool)
    return BlobInfo(name, key_id, size, md5.hexdigest(), sha256.hexdigest())


def _save(name, spool):
    storage = blob_storage()
    try:
        saved = storage.save(name, File(spool, name=name))
    except BaseException:
        with suppress(Exception):
            storage.delete(name)  # a partial file; the name is a fresh uuid, ours alone
        raise
    if saved != name:
        # Only if the storage renamed a colliding uuid, which does not happen.
        with suppress(Exception):
            storage.delete(saved)
        raise BlobError(f"Storage saved {name!r} as {saved!r}.")


def _open_ciphertext(storage, name):
    """A readable binary stream of the stored bytes.

    S3File downloads the whole object (into memory, by default) before the
    first read, so for S3 the response body is streamed directly instead.
    """
    s3 = sys.modules.get("storages.backends.s3")
    if s3 is None or not isinstance(storage, s3.S3Storage):
        return storage.open(name, "rb")
    from botocore.exceptions import ClientError
    from storages.utils import clean_name

    key = storage._normalize_name(clean_name(name))
    try:
        return storage.bucket.Object(key).get()["Body"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(f"Blob does not exist: {name}") from None
        raise


def _read_exact(handle, size):
    """Up to `size` bytes: fewer only at the end of the stream."""
    data = b""
    while len(data) < size:
        more = handle.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _read_header(handle):
    """(header bytes, key id, salt, nonce prefix), checking what can be checked."""
    fixed = _read_exact(handle, len(MAGIC) + 2)
    if len(fixed) < len(MAGIC) + 2 or not fixed.startswith(MAGIC):
        raise BlobCorrupt("Not an Atlas blob.")
    version, id_size = fixed[-2:]
    if version != VERSION:
        raise BlobCorrupt(f"Unsupported blob format version {version}.")
    rest = _read_exact(handle, id_size + SALT_SIZE + NONCE_PREFIX_SIZE)
    if len(rest) < id_size + SALT_SIZE + NONCE_PREFIX_SIZE:
        raise BlobCorrupt("Truncated blob header.")
    key_id = rest[:id_size].decode(errors="replace")  # a bad id fails as an unknown key
    salt, nonce_prefix = rest[id_size : id_size + SALT_SIZE], rest[id_size + SALT_SIZE :]
    return fixed + rest, key_id, salt, nonce_prefix


RECORD_SIZE = SEGMENT_SIZE + TAG_SIZE
# How many segments read_blob reads and decrypts per file read. Reads and
# items of up to 256 KiB: at 12 segments and more (768 KiB buffers) a 1.4 MB
# blob took 3-4 times the CPU of 1 to 8 segments (the allocator's large
# blocks: fresh pages for every buffer), measured on Linux/glibc.
READ_BLOB_SEGMENTS = 4


class BlobReader:
    """Iterator over a blob's plaintext, verified, `segments_per_read` segments per item.

    Each item is one read of that many stored segments, decrypted from
    slices of the read (no copy) and joined: with 4, a 1.4 MB body is 6
    file reads and 6 items (6 socket writes for a response) instead of 23.
    The next read is made before an item is returned, to know whether its
    last segment is the blob's final one; memory stays at two reads' worth.
    It holds the stored file open until exhausted or closed; Django's
    StreamingHttpResponse calls close() when the response is done.
    """

    def __init__(self, handle, segments, segments_per_read=1):
        self._handle = handle
        self._segments = segments
        self._read_size = max(1, segments_per_read) * RECORD_SIZE
        self._index = 0
        self._block = _read_exact(handle, self._read_size)

    def __iter__(self):
        return self

    def __next__(self):
        block = self._block
        if block is None:
            raise StopIteration
        try:
            if not block:
                raise BlobCorrupt("The blob ends before its final segment.")
            # A short read is the end of the blob; after a full one, the next tells.
            following = (
                _read_exact(self._handle, self._read_size) if len(block) == self._read_size else b""
            )
            view = memoryview(block)
            plaintexts = []
            for start in range(0, len(block), RECORD_SIZE):
                record = view[start : start + RECORD_SIZE]
                if len(record) < TAG_SIZE:
                    raise BlobCorrupt("The blob ends before its final segment.")
                final = not following and start + RECORD_SIZE >= len(block)
                plaintexts.append(self._segments.open(self._index, record, final))
                self._index += 1
        except BaseException:
            self.close()
            raise
        if following:
            self._block = following
        else:
            self.close()
        plaintext = plaintexts[0] if len(plaintexts) == 1 else b"".join(plaintexts)
        if not plaintext:
            raise StopIteration  # an empty blob: its one segment is empty
        return plaintext

    def close(self):
        self._block = None
        self._handle.close()


def open_blob(name: str, key_id: str | None = None, segments_per_read: int = 1) -> Iterator[bytes]:
    """The plaintext of blob `name` as verified chunks of up to
    `segments_per_read` times 64 KiB.

    The header is read and the key looked up now, so a missing blob
    (FileNotFoundError) or key (UnknownKey) raises before any byte is
    yielded; tampering anywhere raises BlobCorrupt when reached. `key_id`,
    when given, is the id the owning row recorded; the header must agree.
    """
    handle = _open_ciphertext(blob_storage(), name)
    try:
        header, stored_key_id, salt, nonce_prefix = _read_header(handle)
        if key_id is not None and key_id != stored_key_id:
            raise BlobCorrupt(f"Blob key id {stored_key_id!r} is not the expected {key_id!r}.")
        cipher = _read_cipher(_master_key(stored_key_id), salt)
        segments = _Segments(header, cipher, nonce_prefix)
        return BlobReader(handle, segments, segments_per_read)
    except BaseException:
        handle.close()
        raise


def read_blob(name: str, key_id: str | None = None) -> bytes:
    """The whole plaintext in memory: only for blobs known to be small."""
    with closing(open_blob(name, key_id, READ_BLOB_SEGMENTS)) as chunks:
        return b"".join(chunks)


def delete_blob(name: str) -> None:
    """Remove a blob; a blob already gone (or no name at all) is not an error."""
    if name:
        blob_storage().delete(name)


def blob_exists(name: str) -> bool:
    return bool(name) and blob_storage().exists(name)


def reencrypt_blob(name: str) -> tuple[str, str]:
    """Copy blob `name` under the current key to a new name beside it.

    Returns `(new_name, new_key_id)`. The old blob is left untouched: the
    caller points its row at the new name and key id, and deletes the old
    blob only once that update has committed, so no reader ever meets a row
    naming a missing blob. Plaintext digests and size do not change.
    """
    with closing(open_blob(name)) as plaintext:
        info = write_blob(name.rpartition("/")[0], plaintext)
    return info.name, info.key_id


def iter_blob_models():
    """(model, name field, key id field) for every installed model that owns blobs."""
    for model in apps.get_models():
        for name_field, key_field in getattr(model, "blob_fields", ()):
            yield model, name_field, key_field
