"""Every environment variable is read in one place and documented.

atlas/settings.py reads the environment once; the apps read
`django.conf.settings`. The README's Configuration table names every
variable settings.py reads, and its Development section every variable the
test harness reads.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
READERS = {"env_str", "env_bool", "env_int", "env_list", "env_networks"}
# Files that may read os.environ besides settings.py: the test harness (what
# a test run is pointed at), the benchmarks (documented in bench/README.md),
# and the entry points that only name the settings module.
HARNESS = ("atlas/testing/",)
ELSEWHERE = ("bench/", "manage.py", "atlas/wsgi.py", "atlas/asgi.py")


def project_files():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "var/")) or "/tests/" in relative:
            continue
        yield relative, ast.parse(path.read_text(), relative)


def _is_environ(node):
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def environment_reads(tree):
    """The names of the environment variables a module reads, literally named."""
    names = set()
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Name) and func.id in READERS:
                key = node.args[0]
            elif isinstance(func, ast.Attribute) and func.attr in {"get", "setdefault"}:
                if _is_environ(func.value):
                    key = node.args[0]
            elif isinstance(func, ast.Attribute) and func.attr == "getenv":
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def section(title):
    """The README's text from heading `title` to the next heading of its level."""
    level = re.match(r"#+", title).group()
    start = README.index(f"\n{title}\n")
    following = re.search(rf"\n{level} ", README[start + len(title) + 2 :])
    end = start + len(title) + 2 + following.start() if following else len(README)
    return README[start:end]


def test_only_settings_and_the_harness_read_the_environment():
    readers = {
        relative
        for relative, tree in project_files()
        if environment_reads(tree) and relative != "atlas/settings.py"
    }
    stray = {path for path in readers if not path.startswith(HARNESS + ELSEWHERE)}
    assert stray == set(), "read these through django.conf.settings (define them in settings.py)"


def test_the_readme_documents_every_variable_settings_reads():
    tree = ast.parse((ROOT / "atlas/settings.py").read_text())
    names = environment_reads(tree)
    table = section("## Configuration")
    documented = set(re.findall(r"^\|.*?\|", table, flags=re.M))
    cells = " ".join(documented)
    missing = sorted(name for name in names if f"`{name}`" not in cells)
    assert len(names) > 40
    assert missing == []


def test_the_readme_documents_every_variable_the_test_harness_reads():
    names = set()
    for relative, tree in project_files():
        if relative.startswith(HARNESS):
            names |= environment_reads(tree)
    names -= {"PATH", "DJANGO_SETTINGS_MODULE"}
    development = section("## Development")
    missing = sorted(name for name in names if f"`{name}`" not in development)
    assert "ATLAS_CHROMIUM" in names
    assert missing == []
