"""What a person sees of a state: its outputs, its resources, what changed.

Both state formats are read: Terraform 0.11 and earlier (`modules[]`, each
with `outputs{}` and `resources{}` keyed by address) and 0.12 and later
(top-level `outputs{}` and `resources[]` with `instances[]`). Sensitive
output values never reach a page: they are replaced by a mask before
anything is rendered, and a change to one is reported without its values.
"""

import difflib
import json
from dataclasses import dataclass, field

from .services import read_version

MASK = "(sensitive)"
# Pages parse a state in memory (several times its size in Python objects):
# above this size they show the version's metadata and a download link only.
PAGE_MAX_BYTES = 10 * 1024 * 1024
# difflib is quadratic in the worst case; beyond this the text diff is skipped.
TEXT_DIFF_MAX_LINES = 20_000
TEXT_DIFF_CONTEXT = 3


class TooLarge(Exception):
    """The state is too large to show on a page."""


def load(version):
    """The parsed state of a version, for pages; TooLarge above PAGE_MAX_BYTES."""
    if version.size > PAGE_MAX_BYTES:
        raise TooLarge(version.size)
    return json.loads(read_version(version))


@dataclass(frozen=True)
class Output:
    name: str
    type: str
    sensitive: bool
    value: object

    @property
    def shown(self):
        return MASK if self.sensitive else display(self.value)


def display(value):
    """A value as a person reads it: strings bare, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _root_module(doc):
    for module in doc.get("modules") or []:
        if isinstance(module, dict) and module.get("path") == ["root"]:
            return module
    return {}


def outputs(doc):
    """The root module's outputs by name, in name order."""
    raw = _root_module(doc).get("outputs") if "modules" in doc else doc.get("outputs")
    found = {}
    for name, entry in sorted((raw or {}).items()):
        if isinstance(entry, dict) and "value" in entry:
            kind = entry.get("type")
            found[name] = Output(
                name,
                kind if isinstance(kind, str) else display(kind or ""),
                bool(entry.get("sensitive")),
                entry.get("value"),
            )
        else:  # very old states kept bare string values
            found[name] = Output(name, "string", False, entry)
    return found


def _instance_address(base, key):
    if key is None:
        return base
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}[{json.dumps(key)}]"


def resources(doc):
    """Every resource instance by address, with its attributes (a flat or nested dict)."""
    found = {}
    if "modules" in doc:
        for module in doc.get("modules") or []:
            if not isinstance(module, dict):
                continue
            prefix = "".join(f"module.{part}." for part in (module.get("path") or [])[1:])
            for key, resource in (module.get("resources") or {}).items():
                primary = (resource or {}).get("primary") or {}
                found[prefix + key] = (primary.get("attributes") or {}, resource)
        return found
    for resource in doc.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        base = f"{resource.get('type')}.{resource.get('name')}"
        if resource.get("mode") == "data":
            base = f"data.{base}"
        if resource.get("module"):
            base = f"{resource['module']}.{base}"
        for instance in resource.get("instances") or []:
            address = _instance_address(base, (instance or {}).get("index_key"))
            found[address] = ((instance or {}).get("attributes") or {}, instance)
    return found


@dataclass
class Change:
    name: str
    kind: str  # "added", "removed" or "changed"
    old: str = ""
    new: str = ""
    sensitive: bool = False
    attributes: list = field(default_factory=list)


@dataclass
class Summary:
    outputs: list
    resources: list
    unchanged_resources: int

    def count(self, changes, kind):
        return sum(1 for change in changes if change.kind == kind)

    @property
    def counts(self):
        kinds = ("added", "changed", "removed")
        return {
            "outputs": {kind: self.count(self.outputs, kind) for kind in kinds},
            "resources": {kind: self.count(self.resources, kind) for kind in kinds},
        }

    @property
    def empty(self):
        return not self.outputs and not self.resources


def _output_changes(old, new):
    changes = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        sensitive = bool((before and before.sensitive) or (after and after.sensitive))
        if before is None:
            changes.append(Change(name, "added", new=after.shown, sensitive=sensitive))
        elif after is None:
            changes.append(Change(name, "removed", old=before.shown, sensitive=sensitive))
        elif (before.value, before.sensitive) != (after.value, after.sensitive):
            old_shown = MASK if sensitive else before.shown
            new_shown = MASK if sensitive else after.shown
            changes.append(Change(name, "changed", old_shown, new_shown, sensitive=sensitive))
    return changes


def _changed_keys(before, after):
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def summarize(old_doc, new_doc):
    """What changed from `old_doc` to `new_doc`: outputs with values, resources by address.

    Changed resources list the names of the attributes that changed, not
    their values (attributes can hold secrets; the raw JSON is a download).
    """
    before, after = resources(old_doc), resources(new_doc)
    changes = []
    unchanged = 0
    for address in sorted(before.keys() | after.keys()):
        if address not in before:
            changes.append(Change(address, "added"))
        elif address not in after:
            changes.append(Change(address, "removed"))
        elif before[address][1] != after[address][1]:
            keys = _changed_keys(before[address][0], after[address][0])
            changes.append(Change(address, "changed", attributes=keys))
        else:
            unchanged += 1
    return Summary(_output_changes(outputs(old_doc), outputs(new_doc)), changes, unchanged)


def masked(doc):
    """A copy of the state with every sensitive output value replaced by MASK."""
    doc = json.loads(json.dumps(doc))
    containers = [m.get("outputs") for m in doc.get("modules") or [] if isinstance(m, dict)]
    containers.append(doc.get("outputs"))
    for container in containers:
        for entry in (container or {}).values():
            if isinstance(entry, dict) and entry.get("sensitive"):
                entry["value"] = MASK
    return doc


def pretty(doc):
    """Stable text for a diff: sorted keys, so reordered JSON shows no change."""
    return json.dumps(masked(doc), indent=2, sort_keys=True, ensure_ascii=False).splitlines()


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "hunk", "context" or "file"
    text: str


def unified(old_doc, new_doc, old_label, new_label):
    """The unified diff of the two states' masked, pretty-printed JSON.

    None when either side has more than TEXT_DIFF_MAX_LINES lines.
    """
    old_lines, new_lines = pretty(old_doc), pretty(new_doc)
    if max(len(old_lines), len(new_lines)) > TEXT_DIFF_MAX_LINES:
        return None
    lines = []
    for text in difflib.unified_diff(
        old_lines, new_lines, old_label, new_label, n=TEXT_DIFF_CONTEXT, lineterm=""
    ):
        if text.startswith(("---", "+++")):
            kind = "file"
        elif text.startswith("@@"):
            kind = "hunk"
        elif text.startswith("+"):
            kind = "add"
        elif text.startswith("-"):
            kind = "del"
        else:
            kind = "context"
        lines.append(DiffLine(kind, text))
    return lines
