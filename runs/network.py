"""The network of a run: its own, or (when the machine cannot) the worker's.

A run's code must not reach the services this machine keeps on its loopback
(PostgreSQL with trust authentication, Redis, a metadata proxy), but must
reach this server's API and the outside world (providers talk to cloud
APIs). bubblewrap gives the sandbox a network namespace of its own, and
`pasta` (Debian package `passt`) connects it to the outside with user-mode
networking:

- the sandbox is 10.0.2.100/24 behind the gateway 10.0.2.2; its
  connections leave through ordinary sockets of the pasta process, so they
  reach what the worker's machine could reach over its network interfaces;
- its loopback is its own: 127.0.0.1 and ::1 are the sandbox itself, and
  pasta's mapping of the gateway to the host's loopback is off
  (`--no-map-gw`);
- exactly one port is forwarded from the sandbox's loopback to the
  worker's: the port of the run's relay (runs.relay), its way to the API;
- DNS goes to 10.0.2.3, which pasta forwards to the first resolver of the
  worker's /etc/resolv.conf (so a resolver on the host's loopback, such as
  systemd-resolved, works too);
- nothing is forwarded into the sandbox.

ATLAS_RUN_NETWORK chooses: `auto` (the default) isolates runs whenever
pasta is installed and says in each run's log when it is not; `isolated`
refuses to run without it; `host` shares the worker's network on purpose.
"""

import os
import shutil
import signal
import subprocess
import time
from contextlib import suppress
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .conf import network_mode

ISOLATED, HOST = "isolated", "host"
SANDBOX_ADDRESS, NETMASK_BITS, GATEWAY, DNS = "10.0.2.100", "24", "10.0.2.2", "10.0.2.3"
READY_SECONDS = 10.0
STOP_SECONDS = 3.0
HOST_RESOLV_CONF = "/etc/resolv.conf"
MISSING = (
    "ATLAS_RUN_NETWORK=isolated, but pasta (Debian package passt) is not installed: "
    "apt-get install passt, or set ATLAS_RUN_NETWORK=auto."
)


class NetworkUnavailable(Exception):
    """The run's network cannot be set up; the message is for the run's log."""


def pasta_binary():
    return shutil.which("pasta")


def choose():
    """(ISOLATED or HOST, a line for the run's log)."""
    try:
        mode = network_mode()
    except ImproperlyConfigured as exc:
        raise NetworkUnavailable(str(exc)) from None
    if mode == HOST:
        return HOST, (
            "The run shares the worker's network (ATLAS_RUN_NETWORK=host): it can reach "
            "services on this machine's loopback."
        )
    if pasta_binary():
        return ISOLATED, (
            "The run has a network of its own: the outside world and this server's API, "
            "not the worker's loopback services."
        )
    if mode == ISOLATED:
        raise NetworkUnavailable(MISSING)
    return HOST, (
        "Warning: pasta (Debian package passt) is not installed, so the run shares the "
        "worker's network and can reach services on this machine's loopback. Install passt "
        "to give runs a network of their own."
    )


def problem():
    """Why runs cannot execute here because of the network, or None."""
    try:
        choose()
    except NetworkUnavailable as exc:
        return str(exc)
    return None


def resolv_conf(path):
    """Write the sandbox's /etc/resolv.conf to `path`: the forwarded resolver,
    and the worker's search domains and options."""
    lines = [f"nameserver {DNS}"]
    with suppress(OSError):
        for line in Path(HOST_RESOLV_CONF).read_text(errors="replace").splitlines():
            if line.split()[:1] in (["search"], ["domain"], ["options"]):
                lines.append(line.strip())
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def pasta_command(target_pid, relay_port, pid_file):
    """pasta in the foreground, attached to the network namespace of
    `target_pid`, forwarding only the relay's port out of it."""
    command = [
        pasta_binary(),
        "--foreground",
        "--quiet",
        "--config-net",
        "--tcp-ports", "none",
        "--udp-ports", "none",
        "--tcp-ns", str(relay_port),
        "--udp-ns", "none",
        "--no-map-gw",
        "--address", SANDBOX_ADDRESS,
        "--netmask", NETMASK_BITS,
        "--gateway", GATEWAY,
        "--dns-forward", DNS,
        "--pid", str(pid_file),
    ]  # fmt: skip
    if os.geteuid() == 0:
        # As root, pasta would drop to nobody before opening the namespace
        # (which root's user namespace then refuses): it joins the network
        # namespace alone and keeps root's identity.
        command += ["--runas", "0:0", "--netns", f"/proc/{target_pid}/ns/net"]
    else:
        command.append(str(target_pid))
    setpriv = shutil.which("setpriv")
    if setpriv:
        # pasta dies with the worker, like bubblewrap (--die-with-parent).
        command = [setpriv, "--pdeathsig", "KILL", "--", *command]
    return command


class Attachment:
    """pasta serving one sandbox's network namespace."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.process = None
        self.log = self.directory / "pasta.log"

    def start(self, target_pid, relay_port, deadline):
        """Start pasta and return once the namespace is configured."""
        pid_file = self.directory / "pasta.pid"
        pid_file.unlink(missing_ok=True)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                pasta_command(target_pid, relay_port, pid_file),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                cwd="/",
                start_new_session=True,
                close_fds=True,
            )
        limit = min(deadline, time.monotonic() + READY_SECONDS)
        while True:
            if pid_file.exists() and pid_file.read_text().strip():
                return
            if self.process.poll() is not None:
                raise NetworkUnavailable(
                    f"pasta could not set up the run's network: {self._output()}"
                )
            if time.monotonic() > limit:
                self.stop()
                raise NetworkUnavailable("pasta did not set up the run's network in time.")
            time.sleep(0.01)

    def _output(self):
        with suppress(OSError):
            lines = [
                line
                for line in self.log.read_text(errors="replace").splitlines()
                if line.strip() and "to syslog" not in line
            ]
            return " ".join(lines[-5:])[:500] or "no message"
        return "no message"

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_SECONDS)
