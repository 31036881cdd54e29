"""The data directory is private to the server's user, whatever the umask and
whatever already existed there."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from atlas.datadir import private_directory, private_sqlite_files
from atlas.testing.live import ROOT, server_env

pytestmark = pytest.mark.e2e

# Writes a blob, a key file and rows, then lists every path with its mode
# while the database connection (and so its -wal and -shm files) is open.
WRITE_EVERYTHING = """
import json, os, stat
from django.conf import settings
from atlas.blobs import write_blob
from accounts import tokens
from accounts.models import User
user = User.objects.create(username="ada")
tokens.issue(user)  # generates the key file
blob = write_blob("states/1", [b"secret state"]).name
modes = {"blob": blob}
for folder, names, files in os.walk(settings.DATA_DIR):
    for name in [".", *files, *names]:
        path = os.path.normpath(os.path.join(folder, name))
        modes[os.path.relpath(path, settings.DATA_DIR)] = stat.S_IMODE(os.stat(path).st_mode)
print(json.dumps(modes))
"""


def run_with_umask(env, *args, umask=0o000):
    def loosen():
        os.umask(umask)

    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        preexec_fn=loosen,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


def test_files_and_folders_are_0600_and_0700_even_with_umask_000_in_an_open_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "blobs").mkdir()
    (data / "db.sqlite3").touch()
    for path, loose in ((data, 0o777), (data / "blobs", 0o755), (data / "db.sqlite3", 0o644)):
        os.chmod(path, loose)
    env = server_env(data)

    run_with_umask(env, "migrate", "--verbosity", "0")
    modes = json.loads(run_with_umask(env, "shell", "-c", WRITE_EVERYTHING).splitlines()[-1])

    blob = modes.pop("blob")
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "keys.json", "secret_key"):
        assert modes[name] == 0o600, name
    assert modes[os.path.join("blobs", blob)] == 0o600
    assert {name: oct(value) for name, value in modes.items() if value not in (0o600, 0o700)} == {}
    folders = [name for name, value in modes.items() if value == 0o700]
    assert {".", "blobs", "static", "blobs/states"} <= set(folders)
    assert b"secret state" not in (data / "blobs" / blob).read_bytes()


def test_a_data_folder_the_server_cannot_make_private_stops_it(tmp_path, monkeypatch):
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o755)

    def not_the_owner(path, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "chmod", not_the_owner)
    with pytest.raises(ImproperlyConfigured, match="is mode 0755 and cannot be made 0700"):
        private_directory(folder)


def test_a_database_elsewhere_is_private_but_its_folder_is_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    private_sqlite_files(shared / "atlas.sqlite3")
    assert stat.S_IMODE((shared / "atlas.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_a_shared_folder_is_refused_as_the_data_directory(tmp_path):
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(ImproperlyConfigured, match="shared folder"):
        private_directory(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
