"""The lock files pin what the requirements files ask for (run `make lock`
after changing a requirements file)."""

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\]+) \\$", re.M)


def requirements(name):
    """The requirements a requirements file names, following `-r` includes."""
    found = []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found += requirements(line[3:].strip())
        elif line:
            found.append(Requirement(line))
    return found


def pins(name):
    text = (ROOT / name).read_text()
    locked = {canonicalize_name(package): version for package, version in PIN.findall(text)}
    # Every pin carries at least one hash, so pip installs in --require-hashes mode.
    assert text.count("==") == len(locked)
    assert len(re.findall(r"==[^\n]+\\\n\s+--hash=sha256:", text)) == len(locked)
    return locked


def unsatisfied(requirements_file, lock_file):
    locked = pins(lock_file)
    return [
        str(requirement)
        for requirement in requirements(requirements_file)
        if locked.get(canonicalize_name(requirement.name)) is None
        or not requirement.specifier.contains(locked[canonicalize_name(requirement.name)])
    ]


def test_the_runtime_lock_satisfies_requirements_txt():
    assert unsatisfied("requirements.txt", "requirements.lock") == []


def test_the_development_lock_satisfies_requirements_dev_txt():
    assert unsatisfied("requirements-dev.txt", "requirements-dev.lock") == []


def test_both_locks_pin_the_same_versions():
    runtime, development = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: development.get(name) for name in runtime} == runtime
