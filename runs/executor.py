"""Executing a run's phases on a worker.

A phase starts by claiming the run with a conditional move (pending →
planning, confirmed → applying): only one worker can win it, and an apply
that was claimed once is never claimed again, so no apply ever runs twice,
not even after its worker died. Then, in a fresh directory of the worker's
(`runs.workdirs`, laid out by `runs.workspace`): `terraform init`, and
`terraform plan -out=...` (checked by `runs.planfile`, kept as an encrypted
blob) or `terraform apply <that plan file>`, in the sandbox (`runs.sandbox`,
`runs.network`), reaching this server through the worker's relay
(`runs.relay`), which holds the run token that dies with the phase.
"""

import logging
import os
import re
import socket
import time
from contextlib import closing, suppress
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts import tokens
from accounts.models import Token
from atlas.blobs import delete_blob, open_blob, write_blob
from environments.archives import ArchiveRejected

from . import machine, planfile
from .conf import run_address
from .logs import LogWriter, append_line
from .models import Phase, Run, Status
from .outage import await_database, outlasting
from .process import CANCELED, LOST, Control, Heartbeat, run_terraform
from .relay import Relay, RelayError
from .sandbox import SandboxUnavailable, network_for_phase
from .summaries import first_error
from .workdirs import phase_directory, remove_tree
from .workspace import prepare

logger = logging.getLogger("atlas.runs")

PLAN_SUMMARY = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.")
INIT = ["init", "-input=false", "-no-color", "-reconfigure"]
NO_LIMIT_SECONDS = 10 * 365 * 24 * 3600
PLAN_READ_SECONDS = 120
CHUNK_BYTES = 1024 * 1024


class PhaseFailed(Exception):
    """The phase cannot go on; the message is for the run's log."""


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def execute(run_id):
    """Run whatever phase `run_id` is ready for (the task's body)."""
    run = (
        Run.objects.select_related("environment__namespace", "configuration_version", "created_by")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        return "gone"
    if run.status == Status.PENDING:
        return plan(run)
    if run.status == Status.CONFIRMED:
        return apply(run)
    return f"nothing to do: the run is {run.status}"


def _claim(run, source, target, phase):
    worker = worker_name()
    if not machine.transition(
        run, target, expected=[source], worker_id=worker, heartbeat_at=timezone.now()
    ):
        return None
    append_line(run, phase, f"{target.capitalize()} on worker {worker}.")
    return worker


def issue_token(run, phase):
    """A run token for one phase, bound to the run and its environment: what
    it may do is `accounts.privileges.run_token_allows`. Revoked when the
    phase ends, expiring in any case."""
    user = run.created_by
    if user is None or not user.is_active:
        raise PhaseFailed("The person who queued this run can no longer act; queue it again.")
    ttl = timedelta(seconds=settings.ATLAS_RUN_TOKEN_TTL_SECONDS)
    token, text = tokens.issue(
        user,
        kind=Token.Kind.RUN,
        description=f"Run #{run.pk} ({phase})",
        expires_at=timezone.now() + ttl,
    )
    Token.objects.filter(pk=token.pk).update(
        scope_environment_id=run.environment_id, scope_run_id=run.pk
    )
    token.scope_environment_id, token.scope_run_id = run.environment_id, run.pk
    run.tokens.add(token)
    return token, text


class PhaseRun:
    """The context of one phase: heartbeat, directory, token, relay, log writer."""

    def __init__(self, run, phase, status, worker):
        self.run, self.phase, self.status = run, phase, status
        self.control = Control()
        self.heartbeat = Heartbeat(run.pk, status, worker, self.control)
        self.token = None
        self.writer = None
        self.directory = None
        self.relay = None
        self.net = None
        limit = settings.ATLAS_RUN_PHASE_TIMEOUT_SECONDS
        self.deadline = time.monotonic() + (limit or NO_LIMIT_SECONDS)

    def __enter__(self):
        self.heartbeat.start()
        self.directory = phase_directory(self.run.pk, self.phase)
        return self

    def __exit__(self, *exc_info):
        self.control.stop.set()
        self.heartbeat.join(timeout=10)
        if self.writer is not None:
            self.writer.close()
        self.release()
        remove_tree(self.directory)
        return False

    def release(self):
        """Close the relay and revoke the run token: Terraform is done."""
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        if self.token is not None:
            token_id = self.token.pk
            outlasting(
                lambda: Token.objects.filter(pk=token_id, revoked_at__isnull=True).update(
                    revoked_at=timezone.now()
                ),
                progress=self.control.progress,
            )
            self.token = None

    def prepare(self):
        self.token, token_text = issue_token(self.run, self.phase)
        try:
            self.net, network_line = network_for_phase()
            self.relay = Relay(run_address(), token_text, settings.ATLAS_MAX_STATE_BYTES)
            self.relay.start()
        except (SandboxUnavailable, RelayError) as exc:
            raise PhaseFailed(str(exc)) from None
        try:
            self.workspace = prepare(self.run, self.directory, self.relay.address)
        except ArchiveRejected as exc:
            raise PhaseFailed(f"The configuration version cannot be unpacked: {exc}") from None
        self.writer = LogWriter(self.run, self.phase, [*self.workspace.secrets, token_text])
        self.writer.line("Terraform runs in a sandbox." if _sandboxed() else "No sandbox.")
        self.writer.line(network_line)
        for note in self.workspace.notes:
            self.writer.line(note)
        return self.workspace

    def terraform(self, arguments, cwd=None):
        """(exit status, stop reason or None)."""
        if self.control.reason():
            return None, self.control.reason()
        try:
            result = run_terraform(
                arguments,
                self.workspace,
                self.writer,
                self.control,
                cwd or self.workspace.config,
                deadline=self.deadline,
                net=self.net,
                relay_port=self.relay.port,
            )
        except SandboxUnavailable as exc:
            raise PhaseFailed(str(exc)) from None
        # The database may have restarted while Terraform ran: what follows
        # writes, on a connection that answers.
        await_database(progress=self.control.progress)
        status, reason = result
        if reason is None and status not in (0, 2) and self._cancel_requested():
            # Terraform failed in the second before the heartbeat saw the
            # cancel (its failure may be the cancel's doing): the run was
            # asked to stop, and it stopped.
            reason = CANCELED
        return status, reason

    def _cancel_requested(self):
        return Run.objects.filter(pk=self.run.pk, cancel_requested_at__isnull=False).exists()

    def end(self, to, message="", **fields):
        """Log `message`, store the log, then move the run (unless lost)."""
        self.release()
        if message:
            self.line(message)
        if self.writer is not None:
            self.writer.close(progress=self.control.progress)
            if to == Status.ERRORED:
                fields.setdefault("error_text", first_error(self.writer.tail))
            self.writer = None
        if self.control.lost.is_set():
            return False
        return outlasting(
            lambda: machine.transition(
                self.run, to, expected=[self.status], message=message[:500], **fields
            ),
            progress=self.control.progress,
        )

    def line(self, message):
        if self.writer is not None:
            self.writer.line(message)
        else:
            append_line(self.run, self.phase, message)


def _sandboxed():
    from .conf import sandbox_mode

    return sandbox_mode() != "none"


def _stopped(phase_run, reason, status_word):
    if reason == LOST:
        phase_run.end(Status.ERRORED)  # logs only: the run is no longer ours
        return "lost"
    if reason == CANCELED:
        phase_run.end(Status.CANCELED, f"{status_word} canceled.")
        return Status.CANCELED
    phase_run.end(Status.ERRORED, f"{status_word} stopped: it ran too long.")
    return Status.ERRORED


def _execute(run, waiting, running, phase_name, body, verb):
    """Claim the run (`waiting` → `running`) and execute one phase of it.

    The claim is a conditional update, so a phase never runs twice; any
    failure ends the run `errored` with its reason in the log.
    """
    worker = _claim(run, waiting, running, phase_name)
    if worker is None:
        return f"not claimed: the run is {run.status}"
    with PhaseRun(run, phase_name, running, worker) as phase:
        try:
            return body(run, phase)
        except PhaseFailed as exc:
            phase.end(Status.ERRORED, str(exc))
        except Exception:
            logger.exception("%s of run %s failed", phase_name, run.pk)
            phase.end(Status.ERRORED, f"The worker failed while {verb}; see the server's log.")
    return Status.ERRORED


def plan(run):
    return _execute(run, Status.PENDING, Status.PLANNING, Phase.PLAN, _plan, "planning")


def _plan(run, phase):
    workspace = phase.prepare()
    status, reason = phase.terraform(INIT)
    if reason:
        return _stopped(phase, reason, "Plan")
    if status != 0:
        phase.end(Status.ERRORED, f"terraform init failed (exit status {status}).")
        return Status.ERRORED
    arguments = [
        "plan",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        f"-var-file={workspace.var_file}",
        f"-out={workspace.plan_file}",
    ]
    if run.destroy:
        arguments.append("-destroy")
    status, reason = phase.terraform(arguments)
    if reason:
        return _stopped(phase, reason, "Plan")
    counts = _plan_counts(phase.writer.tail)
    if status == 2 and run.speculative:
        phase.end(
            Status.PLANNED_AND_FINISHED,
            "Speculative plan finished: it is never applied.",
            has_changes=True,
            **counts,
        )
        return Status.PLANNED_AND_FINISHED
    if status == 0:
        phase.end(
            Status.PLANNED_AND_FINISHED,
            "No changes: nothing to apply.",
            has_changes=False,
            **counts,
        )
        return Status.PLANNED_AND_FINISHED
    if status != 2:
        phase.end(Status.ERRORED, f"terraform plan failed (exit status {status}).")
        return Status.ERRORED
    blob = _store_plan(run, phase, workspace)
    if not phase.end(
        Status.PLANNED,
        "Plan finished: {resource_additions} to add, {resource_changes} to change, "
        "{resource_destructions} to destroy.".format(**counts),
        has_changes=True,
        plan_blob=blob.name,
        plan_key_id=blob.key_id,
        plan_size=blob.size,
        **counts,
    ):
        delete_blob(blob.name)
        return "lost"
    run.environment.refresh_from_db(fields=["auto_apply"])
    if run.environment.auto_apply if run.auto_apply is None else run.auto_apply:
        with suppress(machine.TransitionRefused):  # discarded or canceled meanwhile
            machine.confirm(run, None, auto=True)
    return Status.PLANNED


def _store_plan(run, phase, workspace):
    """The plan Terraform wrote, checked (runs.planfile) and stored as an
    encrypted blob; PhaseFailed when it cannot be trusted."""
    try:
        planfile.take(
            workspace.sandbox,
            workspace.plan_relative,
            workspace.checked_plan,
            max_bytes=settings.ATLAS_RUN_PLAN_MAX_BYTES,
            deadline=min(phase.deadline, time.monotonic() + PLAN_READ_SECONDS),
            on_progress=phase.control.progress,
        )
    except planfile.PlanRejected as exc:
        raise PhaseFailed(
            f"The plan is rejected: {exc} Terraform does not write such a plan, so code in "
            "the run tampered with it; nothing of it is kept."
        ) from None

    def chunks(handle):
        while data := handle.read(CHUNK_BYTES):
            phase.control.progress()
            yield data

    with open(workspace.checked_plan, "rb") as handle:
        return write_blob(f"runs/{run.pk}", chunks(handle))


def _plan_counts(output):
    found = PLAN_SUMMARY.findall(output)
    add, change, destroy = (int(n) for n in found[-1]) if found else (0, 0, 0)
    return {
        "resource_additions": add,
        "resource_changes": change,
        "resource_destructions": destroy,
    }


def apply(run):
    return _execute(run, Status.CONFIRMED, Status.APPLYING, Phase.APPLY, _apply, "applying")


def _apply(run, phase):
    if not run.plan_blob:
        raise PhaseFailed("This run has no plan file to apply.")
    workspace = phase.prepare()
    # The phase's directory is fresh: nothing of a sandbox has touched it yet.
    with (
        open(workspace.plan_file, "xb") as handle,
        closing(open_blob(run.plan_blob, run.plan_key_id)) as chunks,
    ):
        for chunk in chunks:
            phase.control.progress()
            handle.write(chunk)
    os.chmod(workspace.plan_file, 0o600)
    status, reason = phase.terraform(INIT)
    if reason:
        return _stopped(phase, reason, "Apply")
    if status != 0:
        phase.end(Status.ERRORED, f"terraform init failed (exit status {status}).")
        return Status.ERRORED
    status, reason = phase.terraform(
        ["apply", "-input=false", "-no-color", str(workspace.plan_file)]
    )
    if reason:
        return _stopped(phase, reason, "Apply")
    if status != 0:
        phase.end(Status.ERRORED, f"terraform apply failed (exit status {status}).")
        return Status.ERRORED
    phase.end(Status.APPLIED, "Apply finished.")
    return Status.APPLIED
