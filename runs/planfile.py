"""Taking the plan file out of a run's working directory, trusting nothing.

Terraform writes the plan inside the sandbox, so whatever ran there (a
provider, a provisioner's script, a module's `external` program) could have
put anything in its place: a symbolic link to a file of the host, a FIFO
that blocks whoever opens it, a device, a file of gigabytes. The worker
therefore opens it without following links and without blocking, checks
that it is a regular file of bounded size, copies it with a time bound into
a file of its own that the sandbox cannot reach, and checks that the copy is
a Terraform plan before anything stores or reuses it.

Plan formats (the magic is all the worker checks; Terraform itself checks
the rest when it applies the plan):
- Terraform 0.9 to 0.11: the bytes `tfplan`, a format version byte (1 or
  2), then a gob-encoded plan;
- Terraform 0.12 and later: a zip archive holding `tfplan` (the changes),
  `tfstate` and, depending on the version, `tfstate-prev`,
  `.terraform.lock.hcl` and the configuration snapshot under `tfconfig/`.
"""

import errno
import os
import stat
import time
import zipfile

LEGACY_MAGIC = b"tfplan"
LEGACY_VERSIONS = {1, 2}
ZIP_MAGIC = b"PK\x03\x04"
ZIP_REQUIRED = {"tfplan"}
ZIP_ENTRIES = {"tfplan", "tfstate", "tfstate-prev", ".terraform.lock.hcl"}
ZIP_PREFIXES = ("tfconfig/",)
CHUNK = 1024 * 1024

KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
}


class PlanRejected(Exception):
    """The plan file is not one the worker can use; the message says why,
    for the run's log."""


def _kind(mode):
    return KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _open_beneath(root, parts, flags):
    """Open `root/parts...` one component at a time, following no link."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            next_fd = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
            )
            os.close(fd)
            fd = next_fd
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def take(root, relative, destination, *, max_bytes, deadline, on_progress=None):
    """Copy the plan at `root/relative` (written in the sandbox) to
    `destination` (the worker's own), and return its size.

    Raises PlanRejected when it is missing, not alone in its directory, not
    a regular file, larger than `max_bytes`, not copied by `deadline` (a
    `time.monotonic()` value) or not a Terraform plan.
    """
    parts = [part for part in str(relative).split("/") if part]
    _alone(root, parts, relative)
    try:
        fd = _open_beneath(root, parts, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PlanRejected(f"The plan file {relative} is a symbolic link.") from None
        if exc.errno == errno.ENOTDIR:
            raise PlanRejected(f"A directory on the way to {relative} was replaced.") from None
        if exc.errno == errno.ENOENT:
            raise PlanRejected(f"Terraform left no plan file at {relative}.") from None
        raise PlanRejected(f"The plan file {relative} cannot be opened: {exc.strerror}.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PlanRejected(f"The plan file {relative} is {_kind(info.st_mode)}.")
        if info.st_size > max_bytes:
            raise PlanRejected(
                f"The plan file is {info.st_size} bytes, more than the {max_bytes} allowed."
            )
        size = _copy(fd, destination, max_bytes, deadline, on_progress)
    finally:
        os.close(fd)
    check(destination)
    return size


def _alone(root, parts, relative):
    """The plan's directory holds the plan file and nothing else: Terraform
    writes nothing more there, so anything else was left by the run."""
    try:
        fd = _open_beneath(root, [*parts[:-1], "."], os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise PlanRejected(
            f"The directory of the plan file {relative} cannot be opened: {exc.strerror}."
        ) from None
    try:
        others = sorted(name for name in os.listdir(fd) if name != parts[-1])
    finally:
        os.close(fd)
    if others:
        shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        raise PlanRejected(f"Something other than Terraform left files beside the plan: {shown}.")


def _copy(fd, destination, max_bytes, deadline, on_progress):
    copied = 0
    out = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        while True:
            if time.monotonic() > deadline:
                raise PlanRejected("Reading the plan file took too long.")
            try:
                data = os.read(fd, CHUNK)
            except BlockingIOError:
                raise PlanRejected("The plan file cannot be read without waiting.") from None
            if not data:
                return copied
            copied += len(data)
            if copied > max_bytes:
                raise PlanRejected(f"The plan file grew past the {max_bytes} bytes allowed.")
            os.write(out, data)
            if on_progress is not None:
                on_progress()
    finally:
        os.close(out)


def check(path):
    """Raise PlanRejected unless the file at `path` (the worker's own) is a
    Terraform plan of one of the formats above."""
    with open(path, "rb") as handle:
        head = handle.read(len(LEGACY_MAGIC) + 1)
    if head[: len(LEGACY_MAGIC)] == LEGACY_MAGIC:
        if len(head) > len(LEGACY_MAGIC) and head[-1] in LEGACY_VERSIONS:
            return
        raise PlanRejected("The plan file has Terraform's magic but no known format version.")
    if not head.startswith(ZIP_MAGIC):
        raise PlanRejected("The plan file is not a Terraform plan.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise PlanRejected("The plan file is not a readable Terraform plan archive.") from None
    missing = ZIP_REQUIRED - set(names)
    if missing:
        raise PlanRejected(f"The plan file lacks {', '.join(sorted(missing))}: not a plan.")
    strange = sorted(
        name for name in names if name not in ZIP_ENTRIES and not name.startswith(ZIP_PREFIXES)
    )
    if strange:
        raise PlanRejected(f"The plan file holds entries no plan has: {', '.join(strange[:5])}.")
