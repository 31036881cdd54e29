"""Variables sent with a run (`-var` through `cloud {}`), sealed at rest.

They are stored only encrypted (environments.crypto), bound to the run, and
written into the phase's variable file after the environment's own, so they
win for the same key.
"""

import json

from environments.crypto import seal, unseal
from environments.services.variables import key_errors

PURPOSE = "run-variables"
MAX_VALUE_BYTES = 64 * 1024
MAX_VARIABLES = 500


class BadRunVariables(ValueError):
    """The variables of a run request are unusable; the message says why."""


def _associated(run):
    return f"run-variables:{run.environment_id}:{run.pk}"


def parse(items):
    """`[{"key", "value"}]` as the TFE API sends them (values are HCL
    literals), checked; a list of `{"key", "value", "hcl": True}`."""
    if items is None:
        return []
    if not isinstance(items, list) or len(items) > MAX_VARIABLES:
        raise BadRunVariables(f"variables must be a list of at most {MAX_VARIABLES} objects")
    parsed = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRunVariables(f"variable {index} must be an object")
        key, value = item.get("key"), item.get("value")
        if problems := key_errors(key):
            raise BadRunVariables(f"variable {index}: key {key!r} {problems[0]}")
        if not isinstance(value, str) or len(value.encode()) > MAX_VALUE_BYTES or "\0" in value:
            raise BadRunVariables(f"variable {key}: value must be a string of HCL")
        parsed[key] = {"key": key, "value": value, "hcl": True}
    return list(parsed.values())


def store(run, variables):
    """Seal `variables` on the saved `run`."""
    if not variables:
        return
    sealed, key_id = seal(json.dumps(variables), _associated(run), purpose=PURPOSE)
    type(run).objects.filter(pk=run.pk).update(variables_sealed=sealed, variables_key_id=key_id)
    run.variables_sealed, run.variables_key_id = sealed, key_id


def load(run):
    """The run's variables in clear (for its phases only)."""
    if not run.variables_sealed:
        return []
    text = unseal(run.variables_sealed, run.variables_key_id, _associated(run), purpose=PURPOSE)
    return json.loads(text)


def reseal(run):
    store(run, load(run))
