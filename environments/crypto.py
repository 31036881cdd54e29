"""Sealing variable values in the database.

Variables are often secrets, so every value (and the variables sent with a
configuration version) is stored AES-256-GCM encrypted under a key derived
from the server key ring (`atlas.keys`), with the key id beside it: a copy of
the database alone reveals none of them. The associated data binds each
ciphertext to its row (environment, category, key or version number), so a
value cannot be moved to another row by editing the database.

`reseal_all()` moves every value to the current key after a rotation;
`count_using_key()` tells whether a key is still needed (for retiring it).
"""

import json

from django.db import transaction

from atlas import sealing
from atlas.keys import key_ring
from atlas.sealing import SealedValueError

PURPOSE = "environment-values"

__all__ = ["SealedValueError", "seal", "unseal"]


def seal(text, associated, purpose=PURPOSE):
    """(sealed text, key id) for `text` bound to the string `associated`
    (atlas.sealing); other apps pass a `purpose` of their own."""
    return sealing.seal(text, associated, purpose)


def unseal(sealed, key_id, associated, purpose=PURPOSE):
    return sealing.unseal(sealed, key_id, associated, purpose)


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
    from runs.models import Run

    from .models import ConfigurationVersion, Variable

    return (
        Variable.objects.filter(value_key_id=key_id).count()
        + ConfigurationVersion.objects.filter(tf_vars_key_id=key_id).count()
        + Run.objects.filter(variables_key_id=key_id).count()
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
    return done + _reseal_run_variables(current)


def _reseal_run_variables(current):
    from runs import variables
    from runs.models import Run

    done = 0
    runs = Run.objects.exclude(variables_key_id=current).exclude(variables_sealed="")
    for pk in runs.values_list("pk", flat=True):
        with transaction.atomic():
            run = Run.objects.select_for_update().filter(pk=pk).first()
            if run is None or run.variables_key_id == current:
                continue
            variables.reseal(run)
            done += 1
    return done
