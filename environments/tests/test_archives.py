"""Hostile archives: refused on upload and on extraction, nothing written outside.

Every case runs three ways: `validate_archive` alone; a real upload through
the API (422, the version errored with the reason, no blob and no temporary
file left); and `extract_archive` of the same bytes stored as a blob behind
validation's back, which must refuse them too and leave its destination
empty. Each checks that nothing appeared outside.
"""

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from atlas.blobs import write_blob
from environments.archives import ArchiveRejected, extract_archive, validate_archive
from environments.models import ConfigurationVersion
from environments.tests.factories import (
    MAIN_TF,
    ConfigurationVersionFactory,
    EnvironmentFactory,
    dir_entry,
    file_entry,
    good_archive,
    hardlink_entry,
    special_entry,
    symlink_entry,
    tar_bytes,
)

pytestmark = pytest.mark.django_db

MAIN = file_entry("main.tf", MAIN_TF)


def big_pax_header():
    info = tarfile.TarInfo("main.tf")
    info.pax_headers = {"comment": "x" * (70 * 1024)}
    return info, MAIN_TF


def sparse_entry():
    info = tarfile.TarInfo("sparse")
    info.type = tarfile.GNUTYPE_SPARSE
    return info, b""


# (id, entries given the outside directory, part of the reason, settings)
CASES = [
    ("absolute path", lambda out: [MAIN, file_entry(f"{out}/abs")], "absolute path", {}),
    ("dot-dot path", lambda out: [MAIN, file_entry("../outside/dotdot")], "'..'", {}),
    ("dot-dot inside", lambda out: [file_entry("a/../../outside/x")], "'..'", {}),
    (
        "symlink to an absolute directory, then a file through it",
        lambda out: [symlink_entry("evil", str(out)), file_entry("evil/pwned")],
        "absolute path",
        {},
    ),
    (
        "symlink up and out, then a file through it",
        lambda out: [symlink_entry("up", "../outside"), file_entry("up/pwned")],
        "points outside",
        {},
    ),
    (
        "symlink inside, then a file extracted through it",
        lambda out: [dir_entry("d/"), symlink_entry("link", "d"), file_entry("link/x")],
        "extracted through the link",
        {},
    ),
    (
        "symlink then a file at the same path (written through)",
        lambda out: [MAIN, symlink_entry("x", "main.tf"), file_entry("x", b"overwrite")],
        "appears twice",
        {},
    ),
    (
        "symlink whose target passes through a later link",
        lambda out: [symlink_entry("a", "b/../outside"), symlink_entry("b", ".")],
        "points through the link",
        {},
    ),
    (
        "symlink replacing a directory that has entries",
        lambda out: [dir_entry("dir/"), file_entry("dir/x"), symlink_entry("dir", "..")],
        "appears twice",
        {},
    ),
    (
        "symlink replacing an implicit directory",
        lambda out: [file_entry("dir/x"), symlink_entry("dir", ".")],
        "appears twice",
        {},
    ),
    (
        "hardlink to a symlink that points outside",
        lambda out: [symlink_entry("s", f"{out}/victim"), hardlink_entry("h", "s")],
        "absolute path",
        {},
    ),
    (
        "hardlink to a symlink",
        lambda out: [MAIN, symlink_entry("s", "main.tf"), hardlink_entry("h", "s")],
        "points to the link",
        {},
    ),
    (
        "hardlink to a hardlink",
        lambda out: [MAIN, hardlink_entry("h1", "main.tf"), hardlink_entry("h2", "h1")],
        "points to the link",
        {},
    ),
    (
        "hardlink out of the archive",
        lambda out: [MAIN, hardlink_entry("h", "../outside/victim")],
        "'..'",
        {},
    ),
    ("hardlink to a missing entry", lambda out: [hardlink_entry("h", "nothing")], "earlier", {}),
    (
        "character device",
        lambda out: [MAIN, special_entry("dev", tarfile.CHRTYPE)],
        "device",
        {},
    ),
    ("block device", lambda out: [special_entry("disk", tarfile.BLKTYPE)], "device", {}),
    ("fifo", lambda out: [MAIN, special_entry("pipe", tarfile.FIFOTYPE)], "FIFO", {}),
    ("sparse file", lambda out: [MAIN, sparse_entry()], "sparse", {}),
    (
        "too many entries",
        lambda out: [file_entry(f"f{i}") for i in range(6)],
        "more than 5 entries",
        {"ATLAS_ARCHIVE_MAX_ENTRIES": 5},
    ),
    (
        "too large expanded",
        lambda out: [file_entry("a", b"\0" * 600), file_entry("b", b"\0" * 600)],
        "expands to more than 1000 bytes",
        {"ATLAS_ARCHIVE_MAX_EXPANDED_BYTES": 1000},
    ),
    (
        "too deep",
        lambda out: [file_entry("a/b/c/d")],
        "deeper than 3 levels",
        {"ATLAS_ARCHIVE_MAX_DEPTH": 3},
    ),
    ("huge metadata header", lambda out: [big_pax_header()], "metadata header", {}),
    ("file beneath a file", lambda out: [MAIN, file_entry("main.tf/x")], "beneath the file", {}),
    ("root as a file", lambda out: [file_entry("./")], "root", {}),
    ("empty archive", lambda out: [], "empty", {}),
]
IDS = [case[0] for case in CASES]


@pytest.fixture
def sandbox(tmp_path, settings):
    """`dest` to extract into, `outside` beside it, a private upload temp dir."""
    root = tmp_path / "sandbox"
    for name in ("dest", "outside", "uploads"):
        (root / name).mkdir(parents=True)
    settings.FILE_UPLOAD_TEMP_DIR = str(root / "uploads")
    return root


def everything_under(path):
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*"))


def snapshot(sandbox, blobs):
    """What exists outside `dest`: the sandbox, and the blob store."""
    return {
        "sandbox": [p for p in everything_under(sandbox) if not p.startswith("dest/")],
        "blobs": [p for p in everything_under(blobs) if Path(blobs, p).is_file()]
        if Path(blobs).exists()
        else [],
    }


@pytest.mark.parametrize(("name", "build", "reason", "limits"), CASES, ids=IDS)
def test_validation_refuses(settings, sandbox, name, build, reason, limits):
    for key, value in limits.items():
        setattr(settings, key, value)
    body = tar_bytes(*build(sandbox / "outside"))
    with pytest.raises(ArchiveRejected) as refused:
        validate_archive(io.BytesIO(body))
    assert reason in str(refused.value)


@pytest.mark.parametrize(("name", "build", "reason", "limits"), CASES, ids=IDS)
def test_an_upload_is_refused_and_leaves_nothing_behind(
    personas, anonymous, settings, sandbox, isolated_data, name, build, reason, limits
):
    for key, value in limits.items():
        setattr(settings, key, value)
    version = ConfigurationVersionFactory(
        environment=EnvironmentFactory(namespace=personas.org.namespace, name="app")
    )
    before = snapshot(sandbox, isolated_data.blobs)
    body = tar_bytes(*build(sandbox / "outside"))
    response = anonymous.put(
        f"/api/v1/terraform/configuration-uploads/{version.secret}",
        body,
        content_type="application/octet-stream",
    )
    assert response.status_code == 422
    message = response.json()["errors"]["archive"][0]
    assert message.startswith("The archive was refused: ")
    assert reason in message
    version.refresh_from_db()
    assert version.status == ConfigurationVersion.Status.ERRORED
    assert version.error == message
    assert version.archive_name == ""
    assert snapshot(sandbox, isolated_data.blobs) == before
    assert os.listdir(sandbox / "uploads") == []


def stored_version(body):
    """A finished version whose blob holds `body`, skipping validation."""
    version = ConfigurationVersionFactory(environment=EnvironmentFactory(name="app"))
    info = write_blob("configurations/test", [body])
    ConfigurationVersion.objects.filter(pk=version.pk).update(
        status="finished", archive_name=info.name, archive_key_id=info.key_id
    )
    version.refresh_from_db()
    return version


@pytest.mark.parametrize(("name", "build", "reason", "limits"), CASES, ids=IDS)
def test_extraction_refuses_and_writes_nothing_outside(
    personas, settings, sandbox, isolated_data, name, build, reason, limits
):
    for key, value in limits.items():
        setattr(settings, key, value)
    (sandbox / "outside" / "victim").write_text("original")
    version = stored_version(tar_bytes(*build(sandbox / "outside")))
    before = snapshot(sandbox, isolated_data.blobs)
    with pytest.raises(ArchiveRejected) as refused:
        extract_archive(version, sandbox / "dest")
    assert reason in str(refused.value)
    assert os.listdir(sandbox / "dest") == []
    assert snapshot(sandbox, isolated_data.blobs) == before
    assert (sandbox / "outside" / "victim").read_text() == "original"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (tar_bytes(MAIN, compress=False), "not a valid gzip-compressed tar"),
        (b"PK\x03\x04 this is a zip", "not a valid gzip-compressed tar"),
        (gzip.compress(b"not a tar at all" * 100), "not a valid gzip-compressed tar"),
        (good_archive()[:-30], "not a valid gzip-compressed tar"),
    ],
    ids=["plain tar", "zip", "gzip of garbage", "truncated"],
)
def test_anything_but_a_whole_gzipped_tar_is_refused(body, reason):
    with pytest.raises(ArchiveRejected) as refused:
        validate_archive(io.BytesIO(body))
    assert reason in str(refused.value)


def test_a_gzip_bomb_stops_at_the_stream_limit(settings):
    settings.ATLAS_ARCHIVE_MAX_EXPANDED_BYTES = 10_000
    settings.ATLAS_ARCHIVE_MAX_ENTRIES = 1
    # one header claiming a small file, then megabytes of zeros the tar reader must skip
    info = tarfile.TarInfo("small")
    info.size = 5 * 1024 * 1024
    raw = info.tobuf(tarfile.PAX_FORMAT) + b"\0" * info.size
    with pytest.raises(ArchiveRejected) as refused:
        validate_archive(io.BytesIO(gzip.compress(raw)))
    assert "expands to more than" in str(refused.value)


def test_pushs_duplicate_entries_are_allowed_and_the_later_wins(personas, sandbox):
    summary = validate_archive(io.BytesIO(good_archive()))
    assert summary.entries == 5
    version = stored_version(good_archive())
    extract_archive(version, sandbox / "dest")
    dest = sandbox / "dest"
    assert (dest / "main.tf").read_bytes() == MAIN_TF
    assert (dest / ".terraform" / "terraform.tfstate").read_bytes() == b'{"version": 3}'
    assert everything_under(sandbox / "outside") == []


def test_safe_links_and_modes_are_extracted(personas, sandbox):
    body = tar_bytes(
        dir_entry("./"),
        MAIN,
        dir_entry("modules/"),
        file_entry("modules/run.sh", b"#!/bin/sh\n", mode=0o4755),
        symlink_entry("modules/main.tf", "../main.tf"),
        symlink_entry("current", "modules"),
        hardlink_entry("copy.tf", "main.tf"),
    )
    extract_archive(stored_version(body), sandbox / "dest")
    dest = sandbox / "dest"
    assert os.readlink(dest / "modules" / "main.tf") == "../main.tf"
    assert (dest / "modules" / "main.tf").read_bytes() == MAIN_TF
    assert (dest / "current" / "run.sh").exists()
    assert os.stat(dest / "copy.tf").st_ino == os.stat(dest / "main.tf").st_ino
    mode = os.stat(dest / "modules" / "run.sh").st_mode
    assert mode & 0o4000 == 0  # setuid stripped by the data filter
    assert mode & 0o100


def test_extraction_needs_an_empty_destination(personas, sandbox):
    (sandbox / "dest" / "leftover").write_text("x")
    with pytest.raises(ValueError):
        extract_archive(stored_version(good_archive()), sandbox / "dest")
    assert everything_under(sandbox / "dest") == ["leftover"]


@pytest.mark.parametrize(("name", "build", "reason", "limits"), CASES, ids=IDS)
def test_extraction_is_safe_even_without_its_validation_pass(
    personas, settings, sandbox, isolated_data, monkeypatch, name, build, reason, limits
):
    """Defence in depth: the member-by-member pass alone refuses every case."""
    from environments import archives

    for key, value in limits.items():
        setattr(settings, key, value)
    (sandbox / "outside" / "victim").write_text("original")
    version = stored_version(tar_bytes(*build(sandbox / "outside")))
    monkeypatch.setattr(archives, "validate_archive", lambda *args, **kwargs: None)
    before = snapshot(sandbox, isolated_data.blobs)
    with pytest.raises(ArchiveRejected):
        extract_archive(version, sandbox / "dest")
    assert os.listdir(sandbox / "dest") == []
    assert snapshot(sandbox, isolated_data.blobs) == before
    assert (sandbox / "outside" / "victim").read_text() == "original"
