"""Property: no generated archive writes outside its directory.

Hypothesis builds archives from hostile pieces (`..`, absolute paths,
symlinks and hardlinks to anywhere, entries through earlier links, the same
name twice) and extracts each through the same function runs use. Whether
the archive is accepted or refused, nothing beside the destination changes
and nothing inside it points out of it.
"""

import itertools
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atlas.blobs import write_blob
from environments.archives import ArchiveRejected, extract_archive
from environments.models import ConfigurationVersion

from .factories import (
    ConfigurationVersionFactory,
    EnvironmentFactory,
    dir_entry,
    file_entry,
    hardlink_entry,
    symlink_entry,
    tar_bytes,
)

pytestmark = pytest.mark.django_db

_names = itertools.count()
components = st.sampled_from(["a", "b", "..", ".", "", "x y", "é", "link", "dir", "a" * 40])
relative = st.lists(components, min_size=1, max_size=5).map("/".join)
paths = st.one_of(relative, relative.map(lambda p: "/" + p), st.just("../outside/victim"))
targets = st.one_of(paths, st.sampled_from(["/etc", "/", "..", "../outside", "/tmp"]))
entries = st.lists(
    st.one_of(
        st.builds(file_entry, paths, st.binary(max_size=8)),
        st.builds(dir_entry, paths),
        st.builds(symlink_entry, paths, targets),
        st.builds(hardlink_entry, paths, paths),
    ),
    min_size=1,
    max_size=8,
)


def _stored_version(body):
    version = ConfigurationVersionFactory(
        environment=EnvironmentFactory(name=f"fuzz{next(_names)}")
    )
    info = write_blob("configurations/test", [body])
    ConfigurationVersion.objects.filter(pk=version.pk).update(
        status="finished", archive_name=info.name, archive_key_id=info.key_id
    )
    version.refresh_from_db()
    return version


def _snapshot(root):
    """Every path under `root`: links with their targets, files with their bytes."""
    return sorted(
        (
            str(path.relative_to(root)),
            path.is_symlink(),
            os.readlink(path).encode()
            if path.is_symlink()
            else path.read_bytes()
            if path.is_file()
            else b"",
        )
        for path in Path(root).rglob("*")
    )


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    # `personas` is set up once and only read: each example makes its own
    # environment and scratch directory.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(members=entries)
def test_no_archive_writes_outside_its_directory(personas, members):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        destination, outside = root / "dest", root / "outside"
        destination.mkdir()
        outside.mkdir()
        (outside / "victim").write_text("original")
        before = _snapshot(outside)
        version = _stored_version(tar_bytes(*members))
        try:
            extract_archive(version, destination)
        except ArchiveRejected:
            assert os.listdir(destination) == []
        assert _snapshot(outside) == before
        assert sorted(os.listdir(root)) == ["dest", "outside"]
        real_destination = os.path.realpath(destination)
        for path in destination.rglob("*"):
            resolved = os.path.realpath(path)
            assert resolved == real_destination or resolved.startswith(real_destination + os.sep)
