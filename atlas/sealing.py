"""Sealing short secrets kept in database rows.

AES-256-GCM under a key derived from the server key ring (`atlas.keys`) for
one purpose, the key id stored beside the value: a copy of the database alone
reveals none of them. The associated data binds each ciphertext to its row,
so a value moved to another row does not open.

Format: ``"v1:" + base64(nonce (12) | ciphertext | tag (16))``.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from atlas.keys import UnknownKey, key_ring, reset_key_ring

PREFIX = "v1:"
NONCE_SIZE = 12


class SealedValueError(Exception):
    """A sealed value could not be opened: tampered with, or its key is gone."""


def _key(key_id, purpose):
    try:
        return key_ring().derive(purpose, key_id)
    except UnknownKey:
        reset_key_ring()  # the key file may have been rotated by another process
        return key_ring().derive(purpose, key_id)


def seal(text, associated, purpose):
    """(sealed text, key id) for `text` bound to the string `associated`.

    Each use seals under a `purpose` of its own, so each derived key serves
    one use."""
    key_id = key_ring().current
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(_key(key_id, purpose)).encrypt(nonce, text.encode(), associated.encode())
    return PREFIX + base64.b64encode(nonce + sealed).decode("ascii"), key_id


def unseal(sealed, key_id, associated, purpose):
    if not sealed.startswith(PREFIX):
        raise SealedValueError("Unknown sealed value format.")
    try:
        raw = base64.b64decode(sealed[len(PREFIX) :])
        key = _key(key_id, purpose)
        plain = AESGCM(key).decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], associated.encode())
    except (InvalidTag, ValueError, UnknownKey) as exc:
        raise SealedValueError(f"A sealed value could not be opened: {exc!r}") from None
    return plain.decode()
