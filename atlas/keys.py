"""The server's key ring: named master keys, one of them current.

Token digests and blob encryption both use keys derived from these masters
with HKDF, one derived key per purpose, so a key serves one use only. Every
digest and every blob records the id of the master key it was made with; a
key that is no longer current keeps working while it stays in the ring, which
is how keys rotate (`manage.py rotate_keys`).

The ring comes from the ATLAS_KEYS setting (JSON text), else from the file
ATLAS_KEYS_FILE, which is generated on first start with mode 0600. It never
lives in the database.
"""

import base64
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class KeyRing:
    """Master keys by id, and which one new digests and blobs use."""

    def __init__(self, current, keys):
        if current not in keys:
            raise ImproperlyConfigured(f"The current key {current!r} is not in the key ring.")
        self.current = current
        self.keys = keys

    @classmethod
    def from_json(cls, text):
        try:
            data = json.loads(text)
            keys = {str(k): base64.b64decode(v) for k, v in data["keys"].items()}
            current = str(data["current"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ImproperlyConfigured(f"The key ring is not valid: {exc}") from None
        for key_id, key in keys.items():
            if len(key) < 32:
                raise ImproperlyConfigured(f"Key {key_id!r} is shorter than 32 bytes.")
        return cls(current, keys)

    def to_json(self):
        return json.dumps(
            {
                "current": self.current,
                "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
            },
            indent=2,
        )

    def derive(self, purpose, key_id=None):
        """The 32-byte key for one purpose under one master key (default: current)."""
        key_id = key_id or self.current
        try:
            master = self.keys[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None
        return _derive(master, purpose)

    def with_new_key(self):
        """A copy of this ring with a fresh key added and made current."""
        key_id = new_key_id()
        keys = dict(self.keys)
        keys[key_id] = secrets.token_bytes(32)
        return KeyRing(key_id, keys)


class UnknownKey(LookupError):
    """A digest or blob names a key that is no longer in the ring."""


@lru_cache(maxsize=64)
def _derive(master, purpose):
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"atlas:" + purpose.encode()
    ).derive(master)


def new_key_id():
    return "k" + secrets.token_hex(4)


def write_key_file(path, ring):
    """Write the ring atomically with mode 0600 (rename over the old file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(ring.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _load_or_create_file(path):
    path = Path(path)
    if not path.exists():
        key_id = new_key_id()
        ring = KeyRing(key_id, {key_id: secrets.token_bytes(32)})
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: when several processes start together only one writes.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(ring.to_json())
    return KeyRing.from_json(path.read_text())


_ring = None


def key_ring():
    """The configured key ring, read once per process."""
    global _ring
    if _ring is None:
        if settings.ATLAS_KEYS:
            _ring = KeyRing.from_json(settings.ATLAS_KEYS)
        else:
            _ring = _load_or_create_file(settings.ATLAS_KEYS_FILE)
    return _ring


def reset_key_ring():
    """Forget the cached ring (after rotation, and in tests)."""
    global _ring
    _ring = None


# Values sealed in database rows (not blobs) under keys of the ring: each app
# that keeps such values registers how to re-seal them all under the current
# key and how many still use a given key, so `rotate_keys` covers them too.
_sealed_value_handlers = {}


def register_sealed_values(label, reseal_all, count_using_key):
    _sealed_value_handlers[label] = (reseal_all, count_using_key)


def sealed_value_handlers():
    return dict(_sealed_value_handlers)
