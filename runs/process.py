"""Running one Terraform command of a phase: output streamed into the log,
a heartbeat while it runs, interrupt and kill when the run is canceled.
"""

import logging
import os
import select
import signal
import subprocess
import threading
import time
from contextlib import suppress

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from . import sandbox
from .models import Run
from .outage import reconnect

logger = logging.getLogger("atlas.runs")

CANCELED, LOST, TIMEOUT = "canceled", "lost", "timeout"
POLL_SECONDS = 1.0
DRAIN_SECONDS = 2.0
REAP_SECONDS = 10.0


class Control:
    """Flags the heartbeat thread raises for the phase to act on, and the
    phase's sign of life for the heartbeat."""

    def __init__(self):
        self.cancel = threading.Event()
        self.lost = threading.Event()
        self.stop = threading.Event()
        self.progressed_at = time.monotonic()

    def progress(self):
        """The phase's thread is not stuck: called from every wait it makes."""
        self.progressed_at = time.monotonic()

    def stuck_for(self):
        return time.monotonic() - self.progressed_at

    def reason(self):
        if self.lost.is_set():
            return LOST
        if self.cancel.is_set():
            return CANCELED
        return None


class Heartbeat(threading.Thread):
    """Proves the worker alive while a phase runs, and watches for cancel.

    Every ATLAS_RUN_HEARTBEAT_SECONDS it sets `heartbeat_at`, but only while
    the run is still in `status` on this worker: when the update touches no
    row, someone else (the reaper, a forced unlock) ended the run, and the
    phase must stop at once (`lost`). Every second it checks for a cancel.

    It beats only while the phase's own thread shows progress: a thread that
    has waited longer than ATLAS_RUN_STALE_SECONDS on anything is treated
    like a dead worker, so the reaper errors the run and frees the
    environment instead of the run staying `planning` for ever.
    """

    def __init__(self, run_id, status, worker_id, control):
        super().__init__(name=f"heartbeat-run-{run_id}", daemon=True)
        self.run_id, self.status, self.worker_id = run_id, status, worker_id
        self.control = control
        self.interval = max(0.2, float(settings.ATLAS_RUN_HEARTBEAT_SECONDS))
        self.stale = float(settings.ATLAS_RUN_STALE_SECONDS)
        self.stalled = False

    def run(self):
        last_beat = time.monotonic()
        try:
            while not self.control.stop.wait(min(POLL_SECONDS, self.interval)):
                try:
                    if time.monotonic() - last_beat >= self.interval:
                        last_beat = time.monotonic()
                        self.beat()
                    self.watch()
                except DatabaseError:
                    logger.warning("Heartbeat of run %s failed; retrying", self.run_id)
                    reconnect()  # the next beat opens a new connection
        finally:
            connection.close()

    def beat(self):
        if self.control.stuck_for() > self.stale:
            if not self.stalled:
                self.stalled = True
                logger.error(
                    "Run %s: the phase made no progress for %.0f s; heartbeats stop so "
                    "the reaper ends it",
                    self.run_id,
                    self.control.stuck_for(),
                )
            return
        alive = Run.objects.filter(
            pk=self.run_id, status=self.status, worker_id=self.worker_id
        ).update(heartbeat_at=timezone.now())
        if not alive:
            self.control.lost.set()

    def watch(self):
        row = Run.objects.filter(pk=self.run_id).values("status", "cancel_requested_at").first()
        if row is None or row["status"] != self.status:
            self.control.lost.set()
        elif row["cancel_requested_at"] is not None:
            self.control.cancel.set()


def _signal(process, signum):
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _group_members(pgid):
    """(pid, command name) of every process in process group `pgid`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid):
            yield int(entry), name


def _interrupt(process):
    """SIGINT to Terraform and what it started, but not to bubblewrap: bwrap
    would die of it and take the sandbox down before Terraform could stop
    gracefully (the kill after the grace period takes the whole group)."""
    for pid, name in list(_group_members(process.pid)):
        if name != "bwrap":
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGINT)


def run_terraform(arguments, workspace, writer, control, cwd, *, deadline, net, relay_port):
    """Run `terraform <arguments>`; returns (exit status, stop reason or None).

    Terraform runs in its own process group, so an interrupt (and the kill
    after ATLAS_RUN_CANCEL_GRACE_SECONDS) reaches it and everything it
    started. `deadline` (a `time.monotonic()` value) ends the phase. Every
    wait of the worker here is bounded: the output pipe is read without
    blocking, only ATLAS_RUN_LOG_MAX_BYTES of it are kept, and what holds
    the pipe open after Terraform exited is killed. Nothing of the arguments
    is secret: they are logged.
    """
    writer.line(f"$ terraform {' '.join(arguments)}")
    writer.flush()
    launch = sandbox.Launch(arguments, workspace, cwd, net, relay_port)
    try:
        process = subprocess.Popen(
            launch.argv,
            cwd=launch.cwd,
            env=launch.env,
            pass_fds=launch.pass_fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
        try:
            launch.started(process, deadline)
        except (sandbox.SandboxUnavailable, OSError) as exc:
            _signal(process, signal.SIGKILL)
            said = _leftover_output(process)
            _reap(process)
            if said:
                writer.write_bytes(said)
            reason = str(exc) if isinstance(exc, sandbox.SandboxUnavailable) else exc.strerror
            raise sandbox.SandboxUnavailable(f"The sandbox did not start: {reason}") from None
        except BaseException:
            _signal(process, signal.SIGKILL)
            process.stdout.close()
            _reap(process)
            raise
        return _follow(process, writer, control, deadline)
    finally:
        launch.close()


def _follow(process, writer, control, deadline):
    grace = float(settings.ATLAS_RUN_CANCEL_GRACE_SECONDS)
    budget = settings.ATLAS_RUN_LOG_MAX_BYTES
    reason, interrupted_at, killed, exited_at = None, None, False, None
    stream = process.stdout.fileno()
    os.set_blocking(stream, False)
    logged = 0
    drained = False
    try:
        while True:
            control.progress()
            ready, _, _ = select.select([stream], [], [], 0.2)
            if ready:
                try:
                    data = os.read(stream, 65536)
                except BlockingIOError:
                    data = None
                if data == b"":
                    drained = True
                    break
                if data:
                    if logged < budget:
                        writer.write_bytes(data[: budget - logged])
                        if logged + len(data) >= budget:
                            writer.line(_truncated_message(budget))
                    logged += len(data)
            writer.tick()
            now = time.monotonic()
            if process.poll() is not None:
                # Something Terraform started may still hold the pipe open.
                exited_at = exited_at or now
                if now - exited_at > DRAIN_SECONDS:
                    _signal(process, signal.SIGKILL)
                    drained = True
                    break
            if reason is None:
                reason = control.reason()
                if reason is None and now > deadline:
                    reason = TIMEOUT
                if reason is not None:
                    interrupted_at = now
                    writer.line(_interrupt_message(reason))
                    _interrupt(process)
            elif not killed and now - interrupted_at > grace:
                writer.line(f"Terraform did not stop within {grace:g} s of the interrupt: killed.")
                _signal(process, signal.SIGKILL)
                killed = True
    finally:
        if not drained and process.poll() is None:
            _signal(process, signal.SIGKILL)  # the worker itself is failing
        process.stdout.close()
        status = _reap(process)
    return status, reason


def _leftover_output(process, limit=64 * 1024):
    """What a process that failed to start printed (bubblewrap's error),
    read for at most DRAIN_SECONDS; closes its output."""
    stream = process.stdout.fileno()
    os.set_blocking(stream, False)
    data, until = b"", time.monotonic() + DRAIN_SECONDS
    try:
        while len(data) < limit and time.monotonic() < until:
            ready, _, _ = select.select([stream], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(stream, limit - len(data))
            except BlockingIOError:
                continue
            if not chunk:
                break
            data += chunk
    finally:
        process.stdout.close()
    return data


def _reap(process):
    """The exit status, waiting a bounded time (the group was killed)."""
    try:
        return process.wait(timeout=REAP_SECONDS)
    except subprocess.TimeoutExpired:
        _signal(process, signal.SIGKILL)
        try:
            return process.wait(timeout=REAP_SECONDS)
        except subprocess.TimeoutExpired:
            logger.error("Process %s did not exit after SIGKILL", process.pid)
            return -signal.SIGKILL


def _truncated_message(budget):
    mib = 1024 * 1024
    size = f"{budget // mib} MiB" if budget % mib == 0 else f"{budget} bytes"
    return (
        f"The log reached {size} (ATLAS_RUN_LOG_MAX_BYTES): "
        "the rest of Terraform's output is not kept."
    )


def _interrupt_message(reason):
    if reason == CANCELED:
        return "Cancel requested: interrupting Terraform."
    if reason == LOST:
        return "This run was ended elsewhere (reaped, or its lock forced open): stopping Terraform."
    limit = settings.ATLAS_RUN_PHASE_TIMEOUT_SECONDS
    return (
        f"The phase ran longer than {limit} s (ATLAS_RUN_PHASE_TIMEOUT_SECONDS): "
        "interrupting Terraform."
    )
