"""A state's root outputs for the TFE API, read without building the whole state.

States of Terraform 0.12+ keep their outputs at the top level: msgspec
decodes only that member and skips the resources. Older states (0.11's
`modules[]`) are read through `presentation`, which parses the document.
"""

import json
from dataclasses import dataclass
from typing import Any

import msgspec

from . import presentation
from .services import read_version


class _Outputs(msgspec.Struct):
    outputs: dict[str, Any] | None = None
    version: int | None = None


_decode = msgspec.json.Decoder(_Outputs).decode

# 0.11's output types, as the cty types Terraform 1.x reads them as.
LEGACY_TYPES = {"string": "string", "list": ["list", "string"], "map": ["map", "string"]}


@dataclass(frozen=True)
class StateOutput:
    name: str
    sensitive: bool
    value: Any
    detailed_type: Any

    @property
    def type(self):
        """TFE's coarse `type`: string, number, boolean, array or object."""
        kind = self.detailed_type
        if kind in ("string", "number"):
            return kind
        if kind == "bool":
            return "boolean"
        if isinstance(kind, list) and kind and kind[0] in ("list", "tuple", "set"):
            return "array"
        return "object"


def state_outputs(version):
    """The root outputs of a stored version, by name order."""
    body = read_version(version)
    header = _decode(body)
    if header.version is not None and header.version >= 4:
        found = []
        for name, entry in sorted((header.outputs or {}).items()):
            if isinstance(entry, dict):
                found.append(
                    StateOutput(
                        name, bool(entry.get("sensitive")), entry.get("value"), entry.get("type")
                    )
                )
        return found
    document = json.loads(body)
    return [
        StateOutput(o.name, o.sensitive, o.value, LEGACY_TYPES.get(o.type, o.type))
        for o in presentation.outputs(document).values()
    ]
