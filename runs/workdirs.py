"""Where a worker keeps the working directories of its runs' phases.

Each worker process owns one directory, `<work root>/atlas-worker-<pid>-*`
(mode 0700), and holds an exclusive lock on the `lock` file inside it for
as long as it lives. A phase gets a fresh directory beneath it. When a
worker starts it removes every worker directory whose lock it can take: the
directories of workers that were killed (the kernel releases a dead
process's locks), with whatever their runs left there.

What a sandbox wrote is hostile: links pointing anywhere, FIFOs, directories
it made unreadable. Removal never follows a link, never opens a file, and
gives directories back their owner's permissions when it has to.
"""

import fcntl
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .conf import work_root

logger = logging.getLogger("atlas.runs")

PREFIX = "atlas-worker-"
LOCK = "lock"

_own = None


def _root():
    root = Path(work_root() or tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    return root


def worker_directory():
    """This process's worker directory, made (and locked) on first use."""
    global _own
    if _own is not None and _own[0] == os.getpid() and _own[1].is_dir():
        return _own[1]
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=_root()))
    handle = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _own = (os.getpid(), path, handle)
    return path


def phase_directory(run_id, phase):
    """A fresh, empty directory (0700) for one phase of a run."""
    return Path(tempfile.mkdtemp(prefix=f"run-{run_id}-{phase}-", dir=worker_directory()))


def sweep():
    """Remove the worker directories of workers that are gone; returns them."""
    removed = []
    for path in sorted(_root().glob(f"{PREFIX}*")):
        if _own is not None and path == _own[1]:
            continue
        if not path.is_dir() or path.is_symlink() or not _owner_gone(path):
            continue
        remove_tree(path)
        removed.append(path)
    if removed:
        logger.info("Removed %d working directories of stopped workers", len(removed))
    return removed


def _owner_gone(path):
    try:
        handle = os.open(path / LOCK, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return True  # killed before it took its lock
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(handle)
    return True


def remove_tree(path):
    """Remove `path` and everything beneath it, whatever a sandbox did to it:
    directories get their owner's permissions back first (the sandbox ran as
    this user, so it owns them), links and FIFOs are unlinked, never opened."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) and not os.path.islink(path):
        _make_removable(path)
    shutil.rmtree(path, onerror=_log_failure)


def _make_removable(top):
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            os.chmod(directory, stat.S_IRWXU)
            with os.scandir(directory) as entries:
                pending.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError as exc:
            logger.warning("Could not open %s for removal: %s", directory, exc)


def _log_failure(_function, failed, exc_info):
    logger.warning("Could not remove %s: %s", failed, exc_info[1])
