"""Environment rules: creating, settings, deleting, and the lock held by hand."""

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone

from accounts import audit
from accounts.names import validate_name
from atlas.blobs import delete_blob

from .. import hooks
from ..locking import RELEASED, describe, holds
from ..models import Environment, LockKind, default_execution_mode

logger = logging.getLogger("atlas.environments")

TAKEN = "has already been taken"
MAX_REASON = 500


class LockError(Exception):
    """A lock or unlock that the environment's current lock refuses (409).

    `environment` is the row as read under its lock: its holder's details
    (a client's LockInfo) go into the answer."""

    def __init__(self, message, environment=None):
        super().__init__(message)
        self.environment = environment


def new_environment(namespace, name, user=None, auto_apply=False, *, existing_ok=False):
    """Create an environment (every door: the API, the UI, a push or a state
    write naming a new one); a bad name is a ValidationError on `name`.

    A taken name (in any case) is a ValidationError too, unless
    `existing_ok`: a push or a state write that names an environment into
    being gets the one a concurrent request just made.
    """
    try:
        validate_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    taken = Environment.objects.filter(namespace=namespace, name__iexact=name)
    if not existing_ok and taken.exists():
        raise ValidationError({"name": [TAKEN]})
    try:
        with transaction.atomic():
            environment = Environment.objects.create(
                namespace=namespace,
                name=name,
                created_by=user,
                auto_apply=bool(auto_apply),
                execution_mode=default_execution_mode(namespace),
            )
            audit.record(
                "environment.create", obj=environment, after={"auto_apply": bool(auto_apply)}
            )
            return environment
    except IntegrityError:
        existing = (
            Environment.objects.select_related("namespace")
            .filter(namespace=namespace, name__iexact=name)
            .first()
            if existing_ok
            else None
        )
        if existing is None:
            raise ValidationError({"name": [TAKEN]}) from None
        return existing


@transaction.atomic
def set_auto_apply(environment, auto_apply):
    before = environment.auto_apply
    environment.auto_apply = bool(auto_apply)
    environment.updated_at = timezone.now()
    environment.save(update_fields=["auto_apply", "updated_at"])
    if before != environment.auto_apply:
        audit.record(
            "environment.update",
            obj=environment,
            before={"auto_apply": before},
            after={"auto_apply": environment.auto_apply},
        )
    return environment


def set_execution_mode(environment, mode, user=None):
    """`remote` (TFE runs on this server's workers) or `local` (state only)."""
    before = environment.execution_mode
    if before == mode:
        return environment
    environment.execution_mode = mode
    environment.updated_at = timezone.now()
    environment.save(update_fields=["execution_mode", "updated_at"])
    audit.record(
        "environment.update",
        obj=environment,
        actor=user,
        before={"execution_mode": before},
        after={"execution_mode": mode},
    )
    return environment


def _owned_blobs(environment):
    """Names of every blob owned by rows that deleting `environment` removes.

    Any app's model that declares `blob_fields` and hangs off the environment
    (configuration versions, state versions, runs...) is found through the
    same collector Django uses to cascade the delete.
    """
    collector = Collector(using=router.db_for_write(Environment))
    collector.collect([environment])
    names = []
    for model, instances in collector.data.items():
        for name_field, _key_field in getattr(model, "blob_fields", ()):
            names.extend(getattr(instance, name_field) for instance in instances)
    for queryset in collector.fast_deletes:
        for name_field, _key_field in getattr(queryset.model, "blob_fields", ()):
            names.extend(queryset.values_list(name_field, flat=True))
    return [name for name in names if name]


@transaction.atomic
def delete_environment(environment, user=None):
    """Delete the environment and everything of its own; blobs go after commit.

    Nothing else of the namespace is touched: only rows that cascade from
    this environment are removed.
    """
    blobs = _owned_blobs(environment)
    slug = environment.slug
    audit.record("environment.delete", obj=environment, name=slug)
    environment.delete()
    logger.info("Environment %s deleted by %s", slug, getattr(user, "username", None))

    def remove_blobs():
        for name in blobs:
            try:
                delete_blob(name)
            except Exception:  # a leftover blob is harmless; keep deleting the rest
                logger.exception("Could not delete blob %s of environment %s", name, slug)

    transaction.on_commit(remove_blobs)


def _locked_row(environment):
    return (
        Environment.objects.select_for_update(of=("self",))
        .select_related("namespace", "locked_by")
        .get(pk=environment.pk)
    )


def _clean_reason(reason, required):
    reason = (reason or "").strip() if isinstance(reason, str) else reason
    if reason is not None and not isinstance(reason, str):
        raise ValidationError({"reason": ["must be a string"]})
    if required and not reason:
        raise ValidationError({"reason": ["can't be blank: say why the environment is locked"]})
    if reason and len(reason) > MAX_REASON:
        raise ValidationError({"reason": [f"is longer than {MAX_REASON} characters"]})
    return reason or ""


@transaction.atomic
def lock_environment(
    environment, user, reason, *, kind=LockKind.MANUAL, lock_id="", operation="", info=None,
    client="",
):  # fmt: skip
    """Take the environment's one lock for `user`; LockError (409) when held.

    By hand (`kind` manual) a reason is required. A client (http backend,
    TFE workspace lock) passes its lock id, the operation, what it says of
    itself (`info`, the http backend's LockInfo) and its name and version.
    """
    reason = _clean_reason(reason, required=kind == LockKind.MANUAL)
    row = _locked_row(environment)
    if row.locked:
        detail = f"{describe(row)}: {row.lock_reason}" if row.lock_reason else describe(row)
        raise LockError(f"The environment is already locked by {detail}", row)
    now = timezone.now()
    fields = {
        **RELEASED,
        "locked": True,
        "lock_reason": reason,
        "locked_by": user,
        "locked_at": now,
        "lock_kind": kind,
        "lock_id": str(lock_id)[:255],
        "lock_operation": str(operation)[:100],
        "lock_info": info,
        "lock_client": str(client)[:200],
    }
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=list(fields))
    if kind == LockKind.MANUAL:
        # Locks that clients take around each state write are routine; a
        # person's lock (and any lock broken open, below) is recorded.
        audit.record("environment.lock", obj=row, after={"reason": reason})
    logger.info("Environment %s locked by %s: %s", row.slug, describe(row), reason)
    return row


@transaction.atomic
def unlock_environment(environment, user, force=False, reason="", lock_id=None):
    """Release the lock. The holder releases their own (with the lock's id
    when the door has one); anything else needs `force`, which only admins
    are given, and the runs app is told so it can log it. LockError (409)
    when the lock is not held, or held by someone else without `force`."""
    reason = _clean_reason(reason, required=False)
    row = _locked_row(environment)
    if not row.locked:
        raise LockError("The environment is not locked.", row)
    holder = row.lock_holder
    described = describe(row)
    was_manual = row.lock_kind == LockKind.MANUAL
    own = holds(row, user, lock_id)
    if not own and not force:
        detail = f"{described}: {row.lock_reason}" if row.lock_reason else described
        raise LockError(
            f"The environment is locked by {detail}. "
            "Force the unlock to release a lock someone else holds.",
            row,
        )
    for name, value in RELEASED.items():
        setattr(row, name, value)
    row.save(update_fields=list(RELEASED))
    if force and not own:
        audit.record(
            "environment.force_unlock",
            obj=row,
            before={"holder": described},
            after={"reason": reason} if reason else None,
        )
    elif was_manual:
        audit.record("environment.unlock", obj=row)
    logger.info(
        "Environment %s %sunlocked by %s (held by %s)%s",
        row.slug,
        "" if own else "force-",
        user.username,
        described,
        f": {reason}" if reason else "",
    )
    if own:
        transaction.on_commit(lambda: hooks.environment_unlocked(row))
    else:
        transaction.on_commit(lambda: hooks.environment_force_unlocked(row, user, holder, reason))
    return row
