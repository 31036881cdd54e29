"""The environment's one lock: who holds it, and whether a write is theirs.

One lock per environment, whatever took it: a person by hand (with a
reason), the active run, Terraform's http backend (`LOCK`, or GitLab's
`POST .../lock`), or a TFE workspace lock (`actions/lock`). It has one
holder, shown everywhere the same way (`describe`), and every door asks
`write_refusal` before a state write: while someone holds the lock, only
the holder writes.

- http: the write carries the lock's ID (`?ID=`);
- TFE: the state version is created by the user who locked the workspace;
- a run: the write comes with the token of the run holding the lock;
- by hand: the person who locked it.

A write that carries a lock ID which is not the held one is refused too (as
GitLab does): its client believes it holds a lock it does not hold.

The lock fields are written by `environments.services` (people and
clients) and `runs.queue` (runs) with the environment's row locked; the
functions here only read them.
"""

from datetime import UTC, datetime

from accounts.models import Token

from .models import LockKind

# Terraform's LockInfo keys (Go field names), in its own order.
LOCK_INFO_KEYS = ("ID", "Operation", "Info", "Who", "Version", "Created", "Path")
ZERO_TIME = "0001-01-01T00:00:00Z"


def run_lock(run):
    """The lock fields of an environment held by `run` (the queue's hold)."""
    from django.utils import timezone

    return {
        "locked": True,
        "locked_by": None,
        "lock_reason": f"Held by run #{run.pk}",
        "locked_at": timezone.now(),
        "lock_kind": LockKind.RUN,
        "lock_id": f"run-{run.pk}",
        "lock_operation": "run",
        "lock_info": None,
        "lock_client": "a run on this server",
    }


# The lock fields of an environment nobody holds.
RELEASED = {
    "locked": False,
    "locked_by": None,
    "lock_reason": "",
    "locked_at": None,
    "lock_kind": "",
    "lock_id": "",
    "lock_operation": "",
    "lock_info": None,
    "lock_client": "",
}


def describe(environment):
    """Who holds the lock and through what, for a person to read; None when free."""
    if not environment.locked:
        return None
    holder = environment.lock_holder
    kind = environment.lock_kind
    if kind == LockKind.RUN or (not kind and environment.locked_by_id is None):
        return holder
    text = holder
    if kind in (LockKind.HTTP, LockKind.TFE):
        text += f" through {LockKind(kind).label}"
        if environment.lock_client:
            text += f" ({environment.lock_client})"
    if environment.lock_operation:
        text += f", operation {environment.lock_operation}"
    return text


def _rfc3339(moment):
    if moment is None:
        return ZERO_TIME
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lock_info(environment):
    """The holder as Terraform's LockInfo: the client's own for an http lock,
    otherwise built from the lock's fields (Terraform prints it on a conflict)."""
    if not environment.locked:
        return None
    if environment.lock_kind == LockKind.HTTP and isinstance(environment.lock_info, dict):
        return {key: environment.lock_info.get(key, "") for key in LOCK_INFO_KEYS}
    who = describe(environment) or ""
    return {
        "ID": environment.lock_id,
        "Operation": environment.lock_operation,
        "Info": environment.lock_reason,
        "Who": who,
        "Version": "",
        "Created": _rfc3339(environment.locked_at),
        "Path": environment.slug,
    }


def holds(environment, user, lock_id=None):
    """True when `user` (with `lock_id`, if the door has one) holds the lock.

    An http lock is the holder's when the ID matches or, without an ID (a
    Terraform force-unlock sends none), when the same person took it.
    """
    if not environment.locked or environment.locked_by_id is None or user is None:
        return False
    if environment.locked_by_id != user.pk:
        return False
    return lock_id is None or lock_id == environment.lock_id


def write_refusal(environment, *, user=None, token=None, lock_id=None, door=""):
    """Why a state write may not happen under the current lock, or None.

    `environment` carries the lock fields as read under its row lock;
    `lock_id` is what the write carries (None: no ID), `door` the protocol
    it came through (`atlas`, `http`, `tfe`).
    """
    if not environment.locked:
        if lock_id:
            return (
                f"The write carries lock ID {lock_id!r}, but the environment is not "
                "locked: the lock was released or broken. Run the command again."
            )
        return None
    if lock_id and lock_id != environment.lock_id:
        return _refusal(environment, f"The write carries lock ID {lock_id!r}, which is not held.")
    kind = environment.lock_kind or (LockKind.RUN if environment.locked_by_id is None else "")
    if kind == LockKind.RUN:
        if _holding_run_token(environment, token):
            return None
    elif kind == LockKind.HTTP:
        if lock_id and lock_id == environment.lock_id:
            return None
    elif kind == LockKind.TFE:
        if (door == "tfe" or lock_id) and holds(environment, user):
            return None
    elif holds(environment, user):
        return None
    return _refusal(environment)


def _holding_run_token(environment, token):
    """The token of the run that holds the lock (its own environment, its own run)."""
    if token is None or token.kind != Token.Kind.RUN:
        return False
    if token.scope_environment_id != environment.pk:
        return False
    run_id = getattr(token, "scope_run_id", None)
    return run_id is None or environment.lock_id in ("", f"run-{run_id}")


def _refusal(environment, first=""):
    since = _rfc3339(environment.locked_at)
    lock = f" (lock ID {environment.lock_id!r})" if environment.lock_id else ""
    reason = f" ({environment.lock_reason})" if environment.lock_reason else ""
    return (
        f"{first + ' ' if first else ''}The environment is locked by "
        f"{describe(environment)}{reason}{lock} since {since}: only the holder may write its "
        "state. "
        "Wait for it to finish, or an admin may force-unlock a lock whose holder crashed."
    ).strip()


def parse_lock_info(data):
    """The LockInfo a client sent, as a dict of strings (unknown keys dropped)."""
    if not isinstance(data, dict):
        return None
    info = {}
    for key in LOCK_INFO_KEYS:
        value = data.get(key, "")
        info[key] = value if isinstance(value, str) else str(value)
    return info


def now_rfc3339():
    return _rfc3339(datetime.now(UTC))
