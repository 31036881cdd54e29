"""Sealing variable values in the database.

Variables are often secrets, so every value (and the variables sent with a
configuration version) is stored AES-256-GCM encrypted under a key derived
from the server key ring (`atlas.keys`), with the key id beside it: a copy of
the database alone reveals none of them. The associated data binds each
ciphertext to its row (environment, category, key or version number), so a
value cannot be moved to another row by editing the database.

Format: ``"v1:" + base64(nonce (12) | ciphertext | tag (16))``.

`reseal_all()` moves every value to the current key after a rotation;
`count_using_key()` tells whether a key is still needed (for retiring it).
"""

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import transaction

from atlas.keys import UnknownKey, key_ring, reset_key_ring

PURPOSE = "environment-values"
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


def seal(text, associated, purpose=PURPOSE):
    """(sealed text, key id) for `text` bound to the string `associated`.

    Other apps seal their own values with a `purpose` of their own, so each
    derived key serves one use."""
    key_id = key_ring().current
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(_key(key_id, purpose)).encrypt(nonce, text.encode(), associated.encode())
    return PREFIX + base64.b64encode(nonce + sealed).decode("ascii"), key_id


def unseal(sealed, key_id, associated, purpose=PURPOSE):
    if not sealed.startswith(PREFIX):
        raise SealedValueError("Unknown sealed value format.")
    try:
        raw = base64.b64decode(sealed[len(PREFIX) :])
        key = _key(key_id, purpose)
        plain = AESGCM(key).decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], associated.encode())
    except (InvalidTag, ValueError, UnknownKey) as exc:
        raise SealedValueError(f"A sealed value could not be opened: {exc!r}") from None
    return plain.decode()


def _variable_ad(environment_id, category, key):
    return f"variable:{environment_id}:{category}:{key}"


def _version_ad(environment_id, number):
    return f"configuration-version:{environment_id}:{number}"


def seal_variable(variable, value):
    """Store `value` sealed on the (unsaved) variable."""
    ad = _variable_ad(variable.environment_id, variable.category, variable.key)
    variable.value_sealed, variable.value_key_id = seal(value, ad)


def open_variable(variable):
    ad = _variable_ad(variable.environment_id, variable.category, variable.key)
    return unseal(variable.value_sealed, variable.value_key_id, ad)


def seal_version_tf_vars(version, tf_vars):
    """Store the list of `{"key", "value", "hcl"}` sealed on the (unsaved) version."""
    ad = _version_ad(version.environment_id, version.number)
    version.tf_vars_sealed, version.tf_vars_key_id = seal(json.dumps(tf_vars), ad)


def open_version_tf_vars(version):
    if not version.tf_vars_sealed:
        return []
    ad = _version_ad(version.environment_id, version.number)
    return json.loads(unseal(version.tf_vars_sealed, version.tf_vars_key_id, ad))


def count_using_key(key_id):
    """How many sealed values still use `key_id` (a key in use must not be retired)."""
    from .models import ConfigurationVersion, Variable

    return (
        Variable.objects.filter(value_key_id=key_id).count()
        + ConfigurationVersion.objects.filter(tf_vars_key_id=key_id).count()
    )


def reseal_all():
    """Re-encrypt every sealed value not under the current key; the count done.

    Each row is re-read and rewritten under `select_for_update`, so a
    concurrent edit is never overwritten with an older value.
    """
    from .models import ConfigurationVersion, Variable

    current = key_ring().current
    done = 0
    for pk in Variable.objects.exclude(value_key_id=current).values_list("pk", flat=True):
        with transaction.atomic():
            variable = Variable.objects.select_for_update().filter(pk=pk).first()
            if variable is None or variable.value_key_id == current:
                continue
            seal_variable(variable, open_variable(variable))
            variable.save(update_fields=["value_sealed", "value_key_id"])
            done += 1
    versions = ConfigurationVersion.objects.exclude(tf_vars_key_id=current).exclude(
        tf_vars_sealed=""
    )
    for pk in versions.values_list("pk", flat=True):
        with transaction.atomic():
            version = ConfigurationVersion.objects.select_for_update().filter(pk=pk).first()
            if version is None or version.tf_vars_key_id == current:
                continue
            seal_version_tf_vars(version, open_version_tf_vars(version))
            version.save(update_fields=["tf_vars_sealed", "tf_vars_key_id"])
            done += 1
    return done
