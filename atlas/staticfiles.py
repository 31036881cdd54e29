"""Collect static files only when their sources changed since the last time.

`collectstatic` with the compressed manifest storage takes seconds (it
hashes and compresses every file of every app), most of a restart. A stamp
in STATIC_ROOT records what was collected: each source file's name, size and
modification time, and the storage that collected them. When the sources
are the same, the collected files are too.
"""

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command

STAMP = ".sources"


def sources_fingerprint():
    digest = hashlib.sha256(settings.STORAGES["staticfiles"]["BACKEND"].encode())
    for finder in get_finders():
        for path, storage in finder.list([]):
            info = os.stat(storage.path(path))
            digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def collect_if_changed():
    """Run collectstatic unless the sources are those of the last run; True if it ran."""
    stamp = Path(settings.STATIC_ROOT) / STAMP
    fingerprint = sources_fingerprint()
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return False
    stamp.unlink(missing_ok=True)  # an interrupted collection is done again
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint)
    return True
