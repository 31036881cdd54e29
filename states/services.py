"""Changing an environment's state: write, clear, roll back.

These are the only functions that move a head; the API and the web UI both
call them. Each stores a body's blob first, outside any transaction (bodies
are large and SQLite has a single writer), then takes the environment's
EnvironmentState row lock for the few queries that decide and record, and
removes the blob again when nothing was recorded.
"""

import logging
from contextlib import suppress
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts import audit
from atlas.blobs import delete_blob, open_blob, read_blob, write_blob
from environments.locking import write_refusal

from .models import EnvironmentState, StateVersion
from .parsing import parse_state, serial_span
from .rules import Decision, Head, Incoming, Outcome, decide

logger = logging.getLogger(__name__)

PIECE = 256 * 1024
ROLLBACK_ATTEMPTS = 5


class ChecksumMismatch(ValueError):
    """The body's MD5 is not the one the client announced in Content-MD5."""


class RollbackBusy(RuntimeError):
    """Writers kept moving the highest serial while a rollback was being stored."""


@dataclass(frozen=True)
class WriteResult:
    """The decision, and the version that is the head because of it (if any)."""

    decision: Decision
    version: StateVersion | None


def blob_prefix(environment):
    return f"states/{environment.pk}"


def pieces(body):
    """A body as memoryview slices for write_blob: no copy of the whole."""
    view = memoryview(body)
    return (view[start : start + PIECE] for start in range(0, len(view), PIECE))


def as_head(version):
    if version is None:
        return None
    return Head(version.serial, version.lineage, version.md5, version.sha256)


def _locked_state(environment):
    """The environment's state row, locked until the transaction ends, with its head.

    On SQLite `select_for_update` is a no-op, but the settings start every
    transaction IMMEDIATE, so the transaction already holds the write lock.
    The head is read by a second statement, after the lock is granted: on
    PostgreSQL a row locked after waiting is re-read as committed by the
    previous writer, but a row joined to it would still come from the
    statement's older snapshot (a new head would read as no head).
    """
    EnvironmentState.objects.get_or_create(
        environment=environment, defaults={"namespace_id": environment.namespace_id}
    )
    state = EnvironmentState.objects.select_for_update().get(pk=environment.pk)
    state.head = StateVersion.objects.filter(pk=state.head_id).first() if state.head_id else None
    return state


def _locked_for_write(environment):
    """The environment's state row with its environment (lock fields, namespace)
    and head, both rows locked until the transaction ends: one query.

    Both rows are locked by the one statement, so on PostgreSQL both are
    re-read as committed if it had to wait. The head, joined but not locked,
    would still come from the statement's older snapshot then: if it is not
    the version the re-read row names, it is read again (only after such a
    wait; versions never change once written). The state row is created on
    the environment's first write.
    """
    locked = (
        EnvironmentState.objects.select_for_update(of=("self", "environment"))
        .select_related("environment__namespace", "environment__locked_by", "head")
        .filter(pk=environment.pk)
        .first()
    )
    if locked is None:
        EnvironmentState.objects.get_or_create(
            environment=environment, defaults={"namespace_id": environment.namespace_id}
        )
        return _locked_for_write(environment)
    if locked.head_id is not None and (locked.head is None or locked.head.pk != locked.head_id):
        locked.head = StateVersion.objects.get(pk=locked.head_id)
    return locked


def _record(state, version):
    state.head = version
    state.max_serial = max(state.max_serial or 0, version.serial)
    state.updated_at = timezone.now()
    state.save(update_fields=["head", "max_serial", "updated_at"])


def write_state(
    environment, body, *, header=None, md5=None, user=None, token=None, run_id="", door="",
    lock_id=None,
):  # fmt: skip
    """Store `body` as the environment's new head if the lock and the conflict rule allow.

    `body` is the complete state (bytes or bytearray); `header` its parsed
    serial and lineage when the caller already has them; `md5` the hex digest
    the client announced; `door` the protocol it came through and `lock_id`
    the lock ID the write carries (the http backend's `?ID=`). Raises
    InvalidState or ChecksumMismatch (nothing stored); otherwise returns the
    decision: a write the environment's lock refuses is a conflict naming the
    holder, and only an accepted write creates a version. A run's token
    names its run when the client does not (the http backend of 1.x runs).
    """
    if not run_id and getattr(token, "scope_run_id", None):
        run_id = str(token.scope_run_id)
    header = header or parse_state(body)
    info = write_blob(blob_prefix(environment), pieces(body))
    kept = False
    try:
        if md5 is not None and md5 != info.md5_hex:
            raise ChecksumMismatch(
                f"The body's MD5 is {info.md5_hex}, not the {md5} that Content-MD5 announced."
            )
        incoming = Incoming(header.serial, header.lineage, info.md5_hex, info.sha256_hex)
        with transaction.atomic():
            # The environment's lock and the state's head, under both row locks.
            state = _locked_for_write(environment)
            locked = state.environment
            refusal = write_refusal(locked, user=user, token=token, lock_id=lock_id, door=door)
            if refusal:
                return WriteResult(Decision(Outcome.LOCKED, refusal, locked), None)
            decision = decide(as_head(state.head), incoming, state.max_serial)
            if decision.outcome is Outcome.UNCHANGED:
                return WriteResult(decision, state.head)
            if decision.refused:
                return WriteResult(decision, None)
            version = _new_version(
                environment, header.serial, header.lineage, info, user, token, run_id=run_id,
                door=door, terraform_version=header.terraform_version[:32],
            )  # fmt: skip
            _record(state, version)
            audit.record(
                "state.write",
                obj=environment,
                after={"serial": version.serial, "run": run_id or None},
            )
            kept = True
        return WriteResult(decision, version)
    finally:
        if not kept:
            _discard(info.name)


def _discard(name):
    with suppress(Exception):
        delete_blob(name)


def clear_head(environment):
    """Clear the head (the state reads as absent); False when there was none.

    The versions stay, and `max_serial` too: the next state must start above it.
    """
    with transaction.atomic():
        state = EnvironmentState.objects.filter(pk=environment.pk).first()
        if state is None:
            return False
        state = _locked_state(environment)
        if state.head_id is None:
            return False
        serial = state.head.serial
        state.head = None
        state.updated_at = timezone.now()
        state.save(update_fields=["head", "updated_at"])
        audit.record("state.delete", obj=environment, before={"serial": serial})
    return True


def _new_version(environment, serial, lineage, info, user, token, **extra):
    """A state version row for the blob `info` (called under the row lock)."""
    return StateVersion.objects.create(
        environment=environment,
        serial=serial,
        lineage=lineage,
        md5=info.md5_hex,
        sha256=info.sha256_hex,
        size=info.size,
        blob_name=info.name,
        blob_key_id=info.key_id,
        created_by=user if user is not None and user.is_authenticated else None,
        token=token,
        **extra,
    )


def rollback(environment, source, *, user=None, token=None):
    """Make `source`'s content the head again, as a new version.

    The new version's serial is one above the highest ever stored, written
    into the body in place of the old serial (every other byte is kept), so
    serials only grow: a client that read the replaced head sees its next
    write refused as stale instead of silently overwriting the rollback.
    The blob is written before the lock; if another write moved the highest
    serial meanwhile, it is written again with the next serial.
    """
    body = read_blob(source.blob_name, source.blob_key_id)
    start, end = serial_span(body)
    for _attempt in range(ROLLBACK_ATTEMPTS):
        seen = (
            EnvironmentState.objects.filter(pk=environment.pk)
            .values_list("max_serial", flat=True)
            .first()
        )
        serial = (seen or 0) + 1
        rewritten = [memoryview(body)[:start], str(serial).encode(), memoryview(body)[end:]]
        info = write_blob(blob_prefix(environment), (p for part in rewritten for p in pieces(part)))
        kept = False
        try:
            with transaction.atomic():
                state = _locked_state(environment)
                if state.max_serial != seen:
                    continue
                version = _new_version(
                    environment, serial, source.lineage, info, user, token,
                    source=StateVersion.Source.ROLLBACK, rolled_back_from=source,
                )  # fmt: skip
                _record(state, version)
                audit.record(
                    "state.rollback",
                    obj=environment,
                    before={"serial": source.serial},
                    after={"serial": serial},
                )
                kept = True
            logger.info(
                "State of environment %s rolled back to serial %s as serial %s",
                environment.pk,
                source.serial,
                serial,
            )
            return version
        finally:
            if not kept:
                _discard(info.name)
    raise RollbackBusy("The state kept changing during the rollback; try again.")


def open_version(version, segments_per_read=1):
    """The plaintext of a version, as verified chunks of `segments_per_read` segments."""
    return open_blob(version.blob_name, version.blob_key_id, segments_per_read)


def read_version(version):
    return read_blob(version.blob_name, version.blob_key_id)
