"""Configuration archives: hostile input, checked before anything trusts them.

An archive must be a gzip-compressed tar. It is read as a stream
(`tarfile` in `r|` mode over our own bounded gzip reader), member by member,
without extracting anything, and refused (`ArchiveRejected`, with a reason a
person can act on) when any member:

- has an absolute name or a `..` component;
- is a device, a FIFO, a sparse file or any other special type;
- is a symlink whose target is absolute or resolves outside the archive, or
  whose target passes through another link;
- is a hardlink to something that is not an earlier regular file (a link,
  a directory, a missing entry);
- lies beneath a link (it would be extracted through it) or beneath a file;
- repeats an earlier path with a different type (a file replaced by a
  symlink would be written through on extraction). The same path with the
  same type may repeat: `terraform push` sends some entries twice and the
  later one wins;
- exceeds the caps: entry count, total expanded size, path depth, and the
  size of metadata headers (pax, GNU long names) that tarfile reads whole.

`extract_archive()` unpacks a stored version into a fresh directory for the
runs app: it validates the stored bytes again, then extracts member by member
with the same checks plus tarfile's own `data` filter, and checks every
extracted path against the destination. On any failure it empties the
destination and raises ArchiveRejected.
"""

import gzip
import os
import posixpath
import shutil
import tarfile
import zlib
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MAX_METADATA_BYTES = 64 * 1024
METADATA_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
HEADER_ALLOWANCE_PER_ENTRY = 4096
NOT_AN_ARCHIVE = "The upload is not a valid gzip-compressed tar archive"

DIR, FILE, SYMLINK, HARDLINK = "directory", "file", "symlink", "hardlink"
LINKS = (SYMLINK, HARDLINK)


class ArchiveRejected(Exception):
    """The archive is unsafe or invalid; the message says why."""


@dataclass(frozen=True)
class Limits:
    max_entries: int
    max_expanded_bytes: int
    max_depth: int

    @property
    def max_stream_bytes(self):
        """The whole decompressed tar stream: contents plus headers and padding."""
        return self.max_expanded_bytes + self.max_entries * HEADER_ALLOWANCE_PER_ENTRY


def current_limits():
    return Limits(
        max_entries=settings.ATLAS_ARCHIVE_MAX_ENTRIES,
        max_expanded_bytes=settings.ATLAS_ARCHIVE_MAX_EXPANDED_BYTES,
        max_depth=settings.ATLAS_ARCHIVE_MAX_DEPTH,
    )


@dataclass(frozen=True)
class ArchiveSummary:
    entries: int
    expanded_bytes: int


class _BoundedReader:
    """Reads a stream, refusing to go past `limit` bytes (a gzip bomb stops here)."""

    def __init__(self, stream, limit):
        self.stream = stream
        self.limit = limit
        self.count = 0

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.limit + 1 - self.count
        data = self.stream.read(min(size, self.limit + 1 - self.count))
        self.count += len(data)
        if self.count > self.limit:
            raise ArchiveRejected(f"The archive expands to more than {self.limit} bytes.")
        return data


class IterableReader:
    """A read()-able stream over an iterator of byte chunks (a blob's plaintext)."""

    def __init__(self, chunks):
        self.chunks = iter(chunks)
        self.buffer = b""

    def read(self, size=-1):
        while size is None or size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        if size is None or size < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


class _GuardedTarInfo(tarfile.TarInfo):
    """Refuses metadata headers that tarfile would read into memory whole."""

    def _proc_member(self, tarfile_):
        if self.type in METADATA_TYPES and self.size > MAX_METADATA_BYTES:
            raise ArchiveRejected(
                f"The archive has a metadata header of {self.size} bytes "
                f"(at most {MAX_METADATA_BYTES})."
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise ArchiveRejected("The archive contains a sparse file; they are not supported.")
        return super()._proc_member(tarfile_)


def normalise(name):
    """The member's path relative to the archive root ("" for the root itself)."""
    if not name or "\x00" in name:
        raise ArchiveRejected("The archive contains an entry without a valid name.")
    if name.startswith("/"):
        raise ArchiveRejected(f"The archive contains an absolute path: {name!r}.")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveRejected(f"The archive contains a path with '..': {name!r}.")
    return "/".join(parts)


def _ancestors(path):
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _kind(member):
    if member.issym():
        return SYMLINK
    if member.islnk():
        return HARDLINK
    if member.isdir():
        return DIR
    if member.isreg():
        if member.sparse is not None:
            raise ArchiveRejected(f"{member.name!r} is a sparse file; they are not supported.")
        return FILE
    if member.ischr() or member.isblk():
        raise ArchiveRejected(f"{member.name!r} is a device file; devices are not allowed.")
    if member.isfifo():
        raise ArchiveRejected(f"{member.name!r} is a FIFO; FIFOs are not allowed.")
    raise ArchiveRejected(f"{member.name!r} has an unsupported entry type.")


class Inspector:
    """Checks members in archive order; `finish()` checks what needs them all."""

    def __init__(self, limits=None):
        self.limits = limits or current_limits()
        self.kinds = {"": DIR}
        self.entries = 0
        self.expanded = 0
        self.symlink_walks = []  # (link path, intermediate paths its target passes)

    def check(self, member):
        """The member's normalised path, or ArchiveRejected."""
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ArchiveRejected(f"The archive has more than {self.limits.max_entries} entries.")
        path = normalise(member.name)
        kind = _kind(member)
        if path and path.count("/") + 1 > self.limits.max_depth:
            raise ArchiveRejected(
                f"{member.name!r} is nested deeper than {self.limits.max_depth} levels."
            )
        if not path and kind != DIR:
            raise ArchiveRejected("The archive root must be a directory.")
        for ancestor in _ancestors(path) if path else []:
            above = self.kinds.get(ancestor)
            if above in LINKS:
                raise ArchiveRejected(
                    f"{member.name!r} would be extracted through the link {ancestor!r}."
                )
            if above == FILE:
                raise ArchiveRejected(f"{member.name!r} lies beneath the file {ancestor!r}.")
        earlier = self.kinds.get(path)
        if earlier is not None and earlier != kind:
            raise ArchiveRejected(f"{member.name!r} appears twice, as a {earlier} and as a {kind}.")
        if kind == FILE:
            self.expanded += member.size
            if self.expanded > self.limits.max_expanded_bytes:
                raise ArchiveRejected(
                    f"The archive expands to more than {self.limits.max_expanded_bytes} bytes."
                )
        elif kind == SYMLINK:
            self.symlink_walks.append((path, self._walk_symlink(member, path)))
        elif kind == HARDLINK:
            self._check_hardlink(member, path)
        for ancestor in _ancestors(path) if path else []:
            self.kinds.setdefault(ancestor, DIR)
        self.kinds[path] = kind
        return path

    def _walk_symlink(self, member, path):
        """The paths a symlink's target passes through; refuses targets outside."""
        target = member.linkname
        if not target:
            raise ArchiveRejected(f"The symlink {member.name!r} has no target.")
        if target.startswith("/"):
            raise ArchiveRejected(
                f"The symlink {member.name!r} points to the absolute path {target!r}."
            )
        stack = [part for part in posixpath.dirname(path).split("/") if part]
        passed = []
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if stack:
                passed.append("/".join(stack))
            if part == "..":
                if not stack:
                    raise ArchiveRejected(
                        f"The symlink {member.name!r} points outside the archive ({target!r})."
                    )
                stack.pop()
            else:
                stack.append(part)
        return passed

    def _check_hardlink(self, member, path):
        target = normalise(member.linkname)
        kind = self.kinds.get(target)
        if kind in LINKS:
            raise ArchiveRejected(
                f"The hardlink {member.name!r} points to the link {member.linkname!r}."
            )
        if kind != FILE or target == path:
            raise ArchiveRejected(
                f"The hardlink {member.name!r} must point to an earlier regular file, "
                f"not {member.linkname!r}."
            )

    def finish(self):
        if self.entries == 0:
            raise ArchiveRejected("The archive is empty.")
        for path, passed in self.symlink_walks:
            for step in passed:
                if self.kinds.get(step) in LINKS:
                    raise ArchiveRejected(f"The symlink {path!r} points through the link {step!r}.")
        return ArchiveSummary(self.entries, self.expanded)


def _open_tar(stream, limits):
    gz = gzip.GzipFile(fileobj=stream, mode="rb")
    bounded = _BoundedReader(gz, limits.max_stream_bytes)
    return gz, tarfile.open(fileobj=bounded, mode="r|", tarinfo=_GuardedTarInfo)


def validate_archive(stream, limits=None):
    """Check a whole archive read from `stream`; an ArchiveSummary or ArchiveRejected."""
    limits = limits or current_limits()
    inspector = Inspector(limits)
    try:
        gz, tar = _open_tar(stream, limits)
        with closing(gz), tar:
            for member in tar:
                inspector.check(member)
    except ArchiveRejected:
        raise
    except (OSError, EOFError, zlib.error, tarfile.TarError, ValueError) as exc:
        raise ArchiveRejected(f"{NOT_AN_ARCHIVE}: {exc}.") from None
    return inspector.finish()


def _inside(root, path):
    return path == root or path.startswith(root + os.sep)


def _check_extracted(root, destination, relative):
    """The extracted entry, and whatever it resolves to, lies inside `root`."""
    target = os.path.join(destination, relative) if relative else destination
    if not _inside(root, os.path.realpath(os.path.dirname(target))):
        raise ArchiveRejected(f"{relative!r} was extracted outside the destination.")
    if not _inside(root, os.path.realpath(target)):
        raise ArchiveRejected(f"{relative!r} resolves outside the destination.")


def _empty(directory):
    for child in Path(directory).iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def extract_archive(version, destination):
    """Unpack `version`'s archive into `destination`, an existing empty directory.

    Nothing is ever written outside `destination`. A refused archive raises
    ArchiveRejected and leaves `destination` empty. Later duplicates of an
    entry overwrite the earlier ones, as `terraform push` expects.
    """
    from atlas.blobs import open_blob

    if not version.archive_name:
        raise ArchiveRejected("This configuration version has no archive.")
    destination = os.path.abspath(destination)
    if not os.path.isdir(destination) or os.listdir(destination):
        raise ValueError(f"{destination} must be an existing empty directory.")
    root = os.path.realpath(destination)
    limits = current_limits()
    with closing(open_blob(version.archive_name, version.archive_key_id)) as chunks:
        validate_archive(IterableReader(chunks), limits)
    try:
        _extract(version, destination, root, limits, open_blob)
    except BaseException:
        _empty(destination)
        raise


def _extract(version, destination, root, limits, open_blob):
    inspector = Inspector(limits)
    with closing(open_blob(version.archive_name, version.archive_key_id)) as chunks:
        try:
            gz, tar = _open_tar(IterableReader(chunks), limits)
            with closing(gz), tar:
                for member in tar:
                    relative = inspector.check(member)
                    if not relative:
                        continue  # the root directory: `destination` itself
                    tar.extract(member, path=destination, filter="data")
                    _check_extracted(root, destination, relative)
        except ArchiveRejected:
            raise
        except (OSError, EOFError, zlib.error, tarfile.TarError, ValueError) as exc:
            raise ArchiveRejected(f"The archive could not be extracted safely: {exc}.") from None
    inspector.finish()
