"""The data directory and its files, private to the server's own user.

Everything kept there is a secret or leads to one: the SQLite database and
its WAL, encrypted blobs, the key ring, the secret key. Folders are 0700 and
files 0600 whatever the process umask, and whatever already exists: a
directory made earlier (by an operator, or by an older release) is
tightened, not trusted. Called from the settings module, so every process
(web, worker, management command) applies it before it writes anything.
"""

import os
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path):
    """Create `path` (and missing parents) and make it 0700; returns the Path.

    A shared folder (sticky bit, like /tmp) is refused rather than closed
    to everyone else.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    if path.stat().st_mode & stat.S_ISVTX:
        raise ImproperlyConfigured(
            f"{path} is a shared folder (like /tmp): give the server a folder of its own."
        )
    _tighten(path, DIRECTORY_MODE)
    return path


def private_file(path):
    """Create `path` empty if missing, and make it 0600, without truncating it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    _tighten(Path(path), FILE_MODE)


def private_sqlite_files(name):
    """Make the SQLite database 0600 before SQLite opens it.

    SQLite creates a missing database with 0644 less the umask, and its
    `-wal` and `-shm` files with the database's own mode: an empty file
    created here first (a valid empty database) makes all three private.
    A missing folder is created 0700; an existing one is left as it is
    (the data directory is already private; a folder named in
    DATABASE_URL is the operator's).
    """
    name = str(name)
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _tighten(companion, FILE_MODE)


def _tighten(path, mode):
    current = stat.S_IMODE(path.stat().st_mode)
    if current == mode:
        return
    try:
        path.chmod(mode)
    except PermissionError:
        raise ImproperlyConfigured(
            f"{path} is mode {current:04o} and cannot be made {mode:04o}: "
            "the data directory must belong to the user the server runs as."
        ) from None
