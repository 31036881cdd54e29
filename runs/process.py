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

from django.db import DatabaseError, connection
from django.utils import timezone

from . import sandbox
from .conf import setting
from .models import Run

logger = logging.getLogger("atlas.runs")

CANCELED, LOST, TIMEOUT = "canceled", "lost", "timeout"
POLL_SECONDS = 1.0
DRAIN_SECONDS = 2.0


class Control:
    """Flags the heartbeat thread raises for the phase to act on."""

    def __init__(self):
        self.cancel = threading.Event()
        self.lost = threading.Event()
        self.stop = threading.Event()

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
    """

    def __init__(self, run_id, status, worker_id, control):
        super().__init__(name=f"heartbeat-run-{run_id}", daemon=True)
        self.run_id, self.status, self.worker_id = run_id, status, worker_id
        self.control = control
        self.interval = max(0.2, float(setting("ATLAS_RUN_HEARTBEAT_SECONDS")))

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
        finally:
            connection.close()

    def beat(self):
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


def run_terraform(arguments, workspace, writer, control, cwd):
    """Run `terraform <arguments>`; returns (exit status, stop reason or None).

    Terraform runs in its own process group, so an interrupt (and the kill
    after ATLAS_RUN_CANCEL_GRACE_SECONDS) reaches it and everything it
    started. Nothing of the arguments is secret: they are logged.
    """
    grace = float(setting("ATLAS_RUN_CANCEL_GRACE_SECONDS"))
    limit = float(setting("ATLAS_RUN_PHASE_TIMEOUT_SECONDS") or 0)
    writer.line(f"$ terraform {' '.join(arguments)}")
    writer.flush()
    process = subprocess.Popen(
        sandbox.command(arguments, workspace.root, cwd),
        cwd=cwd,
        env=workspace.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )
    started = time.monotonic()
    reason, interrupted_at, killed, exited_at = None, None, False, None
    stream = process.stdout.fileno()
    drained = False
    try:
        while True:
            ready, _, _ = select.select([stream], [], [], 0.2)
            if ready:
                data = os.read(stream, 65536)
                if not data:
                    drained = True
                    break
                writer.write_bytes(data)
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
                if reason is None and limit and now - started > limit:
                    reason = TIMEOUT
                if reason is not None:
                    interrupted_at = now
                    writer.line(_interrupt_message(reason, limit))
                    _interrupt(process)
            elif not killed and now - interrupted_at > grace:
                writer.line(f"Terraform did not stop within {grace:g} s of the interrupt: killed.")
                _signal(process, signal.SIGKILL)
                killed = True
    finally:
        if not drained and process.poll() is None:
            _signal(process, signal.SIGKILL)  # the worker itself is failing
        process.stdout.close()
        status = process.wait()
    return status, reason


def _interrupt_message(reason, limit):
    if reason == CANCELED:
        return "Cancel requested: interrupting Terraform."
    if reason == LOST:
        return "This run was ended elsewhere (reaped, or its lock forced open): stopping Terraform."
    return f"The phase ran longer than {limit:g} s: interrupting Terraform."
