"""Where Terraform runs: a bubblewrap sandbox that sees only the run's files.

Configurations are hostile: `file()`, a provisioner or a provider could read
whatever the worker can read (the key ring, the secret key, the SQLite
database, other environments' blobs). Inside the sandbox there is nothing
of the server: the system's read-only `/usr`, the Terraform binary, a few
files of `/etc` for name resolution and TLS, the run's own working
directory, an empty `/tmp`, and a fresh `/proc` and `/dev`. It runs as an
unprivileged user in its own user, PID, IPC and UTS namespaces with every
capability dropped; only the network is shared, because Terraform must reach
this server (ATLAS_ADDRESS) and the providers' APIs.

`ATLAS_RUN_SANDBOX=none` runs Terraform directly; it must be set
explicitly, and is meant for development machines without bubblewrap.
"""

import os
import shutil
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .conf import sandbox_mode, terraform_binary

SANDBOX_TERRAFORM = "/opt/atlas/terraform"
NOBODY = "65534"
ETC_FILES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
)
PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxUnavailable(Exception):
    """The configured sandbox cannot be used on this machine."""


def _root_entries():
    """bwrap arguments for /bin, /lib, ...: symlinks into /usr where the host
    has merged /usr, read-only binds otherwise."""
    args = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def bwrap_binary():
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: install it (apt-get install bubblewrap), "
            "or set ATLAS_RUN_SANDBOX=none to run Terraform without a sandbox."
        )
    return found


def command(arguments, workdir, cwd):
    """The argv that runs `terraform <arguments>` in `cwd`, inside `workdir`.

    The process environment is the caller's to set (Popen's `env`): bwrap
    passes it on, so no secret ever appears on a command line.
    """
    binary = terraform_binary()
    try:
        mode = sandbox_mode()
    except ImproperlyConfigured as exc:
        raise SandboxUnavailable(str(exc)) from None
    if mode == "none":
        return [binary, *arguments]
    workdir = str(Path(workdir).resolve())
    argv = [
        bwrap_binary(),
        "--unshare-all",
        "--share-net",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
        "--uid",
        NOBODY,
        "--gid",
        NOBODY,
        "--ro-bind",
        "/usr",
        "/usr",
        *_root_entries(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",  # noqa: S108 - the sandbox's own empty /tmp
    ]
    for path in ETC_FILES:
        argv += ["--ro-bind-try", path, path]
    argv += [
        "--ro-bind",
        binary,
        SANDBOX_TERRAFORM,
        "--bind",
        workdir,
        workdir,
        "--chdir",
        str(Path(cwd).resolve()),
        "--",
        SANDBOX_TERRAFORM,
        *arguments,
    ]
    return argv


def problem():
    """Why runs cannot execute on this machine, or None when they can."""
    try:
        terraform_binary()
        if sandbox_mode() == "bwrap":
            bwrap_binary()
    except (ImproperlyConfigured, SandboxUnavailable) as exc:
        return str(exc)
    return None
