"""The state conflict rule: what a write does to an environment's head.

This is the one place the rule lives. `decide` is pure so it can be tested
on its own; `states.services.write_state` calls it under the row lock, and
the API and the web UI only ever reach it through that service.
"""

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    """What the rule needs to know about the stored head (or any version)."""

    serial: int
    lineage: str
    md5: str
    sha256: str


@dataclass(frozen=True)
class Incoming:
    """What the rule needs to know about the body a client sent."""

    serial: int
    lineage: str
    md5: str
    sha256: str


class Outcome(enum.Enum):
    UNCHANGED = "unchanged"  # the same bytes as the head: 200, nothing stored
    ACCEPTED = "accepted"  # stored as the new head: 200
    CONFLICT = "conflict"  # refused: 409, nothing stored
    # Refused without a head to conflict with: 422 on `serial`, nothing stored.
    # Not a 409: on a 409 Terraform 0.11 reads the head to compare, and with
    # no head (a 404) it crashes instead of reporting the error.
    SERIAL_USED = "serial_used"
    # Refused because someone else holds the environment's lock: 409 naming
    # the holder (environments.locking decides; the rule below never sees it).
    LOCKED = "locked"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str = ""
    # For LOCKED: the environment as read under its lock (the holder's details).
    environment: object = None

    @property
    def stores(self):
        return self.outcome is Outcome.ACCEPTED

    @property
    def refused(self):
        return self.outcome in (Outcome.CONFLICT, Outcome.SERIAL_USED, Outcome.LOCKED)


def decide(head, incoming, max_serial=None):
    """The outcome of writing `incoming` over `head` (None when there is no head).

    `max_serial` is the highest serial ever stored for the environment, head
    or not: serials only grow (a version is named by its serial), so after an
    admin cleared the head a new state must start above it.

    - the same bytes as the head: unchanged (Terraform's HTTP client retries,
      so the same PUT may arrive twice);
    - a lineage different from the head's, both present: conflict;
    - a serial equal to the head's (other bytes) or lower: conflict;
    - no head, and a serial not above the highest ever stored: serial used;
    - otherwise the write becomes the new head.
    """
    if head is not None:
        if head.sha256 == incoming.sha256 and head.md5 == incoming.md5:
            return Decision(Outcome.UNCHANGED)
        if head.lineage and incoming.lineage and head.lineage != incoming.lineage:
            return Decision(
                Outcome.CONFLICT,
                f"The state's lineage {incoming.lineage!r} differs from the stored "
                f"lineage {head.lineage!r}. To replace the state with another one, an "
                "admin clears the current state (DELETE) first.",
            )
        if incoming.serial == head.serial:
            return Decision(
                Outcome.CONFLICT,
                f"Serial {incoming.serial} is already stored with different content. "
                "Another write happened since this state was read: refresh and retry.",
            )
        if incoming.serial < head.serial:
            return Decision(
                Outcome.CONFLICT,
                f"Serial {incoming.serial} is lower than the stored serial {head.serial}: "
                "this state is older than the stored one.",
            )
    if max_serial is not None and incoming.serial <= max_serial:
        return Decision(
            Outcome.SERIAL_USED,
            f"must be above {max_serial}: this environment's state was cleared, and serials "
            f"only grow. Set the state's serial to {max_serial + 1} or more and push it "
            "(terraform state push), or roll back to a stored version.",
        )
    return Decision(Outcome.ACCEPTED)


def decide_announced(head, serial, lineage, md5, max_serial=None):
    """The outcome `decide` will give a body announced by its serial, lineage
    and MD5 before it arrives (a TFE state version created before its
    upload). The MD5 stands for the body: equal to the head's, it is taken
    as the same bytes; the upload itself is decided again by `decide`."""
    same = head is not None and head.md5 == md5
    incoming = Incoming(serial, lineage, md5, head.sha256 if same else "")
    return decide(head, incoming, max_serial)
