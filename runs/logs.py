"""Run logs: stored in chunks as Terraform writes them, secrets masked first.

A log is a sequence of `RunLogChunk` rows per run and phase; each knows its
byte offset, so `?offset=N` returns exactly what follows byte N and a client
can tail a log while it grows. Text passes through a `Masker` before it is
stored: the values of sensitive variables (and the run's own token) never
reach the database, even when Terraform prints them split across reads.
"""

import codecs
import json
import re
import time

from django.db import IntegrityError, transaction

from .models import RunLogChunk
from .outage import TRANSIENT, outlasting, reconnect

MASK = "***"
MAX_CHUNK_BYTES = 64 * 1024
FLUSH_SECONDS = 0.5
MIN_LINE_SECRET = 4
TAIL_CHARS = 16 * 1024


class Masker:
    """Replaces secrets in a stream of text, holding back only what could
    still turn out to be the start of a secret.

    Complete lines are released at once (patterns never contain a newline:
    a multi-line secret is masked line by line). Of a partial line, only the
    part that no pattern could extend is released.
    """

    def __init__(self, secrets):
        patterns = set()
        for secret in secrets:
            if not secret:
                continue
            for form in {secret, json.dumps(secret, ensure_ascii=False)[1:-1]}:
                if "\n" in form or "\r" in form:
                    patterns.update(
                        line for line in form.splitlines() if len(line.strip()) >= MIN_LINE_SECRET
                    )
                else:
                    patterns.add(form)
        ordered = sorted(patterns, key=len, reverse=True)
        self.regex = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.longest = len(ordered[0]) if ordered else 0
        self.pending = ""

    def mask(self, text):
        return self.regex.sub(MASK, text) if self.regex else text

    def feed(self, text):
        """Masked text that is safe to release now."""
        if not self.regex:
            return text
        self.pending += text
        safe = self.pending.rfind("\n") + 1
        safe = max(safe, len(self.pending) - (self.longest - 1))
        for match in self.regex.finditer(self.pending):
            if match.start() < safe < match.end():
                safe = match.start()
                break
        released, self.pending = self.pending[:safe], self.pending[safe:]
        return self.mask(released)

    def finish(self):
        released, self.pending = self.pending, ""
        return self.mask(released)


def _last_end(run_id, phase):
    last = (
        RunLogChunk.objects.filter(run_id=run_id, phase=phase)
        .order_by("-offset")
        .values_list("offset", "size")
        .first()
    )
    return sum(last) if last else 0


def _split(text):
    """Pieces of `text` of at most MAX_CHUNK_BYTES each, on character bounds."""
    data = text.encode()
    while data:
        piece = data[:MAX_CHUNK_BYTES]
        # Do not cut a UTF-8 sequence: back off to the start of a character.
        while len(piece) < len(data) and piece and (data[len(piece)] & 0xC0) == 0x80:
            piece = piece[:-1]
        yield piece
        data = data[len(piece) :]


def append_text(run, phase, text):
    """Append (already masked) `text` to a log; safe against concurrent writers:
    the unique (run, phase, offset) makes a racing writer retry at the new end."""
    run_id = getattr(run, "pk", run)
    for piece in _split(text):
        for _attempt in range(20):
            offset = _last_end(run_id, phase)
            try:
                with transaction.atomic():
                    RunLogChunk.objects.create(
                        run_id=run_id,
                        phase=phase,
                        offset=offset,
                        size=len(piece),
                        text=piece.decode(),
                    )
                break
            except IntegrityError:
                continue


def append_line(run, phase, message):
    """A line of our own (not Terraform's) in a run's log."""
    append_text(run, phase, f"[atlas] {message}\n")


def log_size(run, phase):
    """The log's current size in bytes."""
    return _last_end(getattr(run, "pk", run), phase)


def read_tail(run, phase, max_bytes):
    """(text of the last `max_bytes` or fewer, starting on a line, the byte
    offset it starts at, the log's size in bytes)."""
    size = log_size(run, phase)
    start = max(0, size - max_bytes)
    if start == 0:
        data, size = read_log(run, phase)
        return data.decode(errors="replace"), 0, size
    data, size = read_log(run, phase, start)
    newline = data.find(b"\n")
    if 0 <= newline < len(data) - 1:
        data, start = data[newline + 1 :], start + newline + 1
    return data.decode(errors="replace"), start, size


def read_chunks(run, phase):
    """The log's text, chunk by chunk (for streaming the whole of it)."""
    rows = (
        RunLogChunk.objects.filter(run=run, phase=phase)
        .order_by("offset")
        .values_list("text", flat=True)
    )
    for text in rows.iterator(chunk_size=16):
        yield text.encode()


def log_may_grow(run, phase):
    """Whether the phase's log grows while the run stays in its current status.

    A plan's log grows while it is pending or planning; an apply's once it
    is confirmed. The few lines written when the status changes (who
    discarded or canceled it) come with the new status.
    """
    from .models import Phase, Status

    if phase == Phase.PLAN:
        return run.status in (Status.PENDING, Status.PLANNING)
    return run.status in (Status.CONFIRMED, Status.APPLYING)


def read_log(run, phase, offset=0):
    """(bytes after `offset`, the log's current size in bytes)."""
    offset = max(0, int(offset))
    rows = RunLogChunk.objects.filter(run=run, phase=phase)
    # Chunks that end before `offset` are not needed: none starts before
    # `offset - MAX_CHUNK_BYTES` and reaches past it.
    rows = rows.filter(offset__gt=offset - MAX_CHUNK_BYTES)
    chunks = list(rows.order_by("offset").values_list("offset", "size", "text"))
    size = chunks[-1][0] + chunks[-1][1] if chunks else _last_end(getattr(run, "pk", run), phase)
    parts = []
    for start, length, text in chunks:
        if start + length <= offset:
            continue
        data = text.encode()
        parts.append(data[offset - start :] if start < offset else data)
    return b"".join(parts), size


class LogWriter:
    """Streams one phase's output into its log: decodes bytes, masks
    secrets, and stores what it has at most every FLUSH_SECONDS."""

    def __init__(self, run, phase, secrets=()):
        self.run_id = run.pk
        self.phase = phase
        self.masker = Masker(secrets)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.buffer = []
        self.buffered = 0
        self.last_flush = time.monotonic()
        self.tail = ""  # the last of what was written, masked, for summaries
        self.retry_at = 0.0  # while the database is unreachable: when to try again

    def write_bytes(self, data):
        self.write(self.decoder.decode(data))

    def write(self, text):
        released = self.masker.feed(text)
        if released:
            self.buffer.append(released)
            self.buffered += len(released)
            self.tail = (self.tail + released)[-TAIL_CHARS:]
        if self.buffered >= MAX_CHUNK_BYTES // 2:
            self.flush()

    def line(self, message):
        self.write(f"[atlas] {message}\n")

    def tick(self):
        """Store what is buffered if it has waited long enough."""
        if self.buffer and time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self):
        """Store what is buffered; while the database is unreachable, keep
        it (Terraform goes on) and try again a second later."""
        self.last_flush = time.monotonic()
        if not self.buffer or self.last_flush < self.retry_at:
            return
        try:
            self._store()
        except TRANSIENT:
            reconnect()
            self.retry_at = time.monotonic() + 1.0

    def _store(self):
        """Store the buffer piece by piece; what is not stored stays buffered."""
        pieces = list(_split("".join(self.buffer)))
        self.buffer, self.buffered = [], 0
        stored = 0
        try:
            for piece in pieces:
                append_text(self.run_id, self.phase, piece.decode())
                stored += 1
        finally:
            rest = b"".join(pieces[stored:])
            if rest:
                self.buffer, self.buffered = [rest.decode()], len(rest)

    def close(self, progress=None):
        tail = self.decoder.decode(b"", final=True)
        released = self.masker.feed(tail) + self.masker.finish()
        if released:
            self.buffer.append(released)
            self.tail = (self.tail + released)[-TAIL_CHARS:]
        if self.buffer:
            outlasting(self._store, progress=progress)
