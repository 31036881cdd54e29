"""Environment rules: creating, settings, deleting, and the lock held by hand."""

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone

from accounts.names import validate_name
from atlas.blobs import delete_blob

from .. import hooks
from ..models import Environment

logger = logging.getLogger("atlas.environments")

TAKEN = "has already been taken"
MAX_REASON = 500


class LockError(Exception):
    """A lock or unlock that the environment's current lock refuses (409)."""


def new_environment(namespace, name, user=None, auto_apply=False):
    """Create an environment; a taken name (in any case) is a ValidationError on `name`."""
    try:
        validate_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    if Environment.objects.filter(namespace=namespace, name__iexact=name).exists():
        raise ValidationError({"name": [TAKEN]})
    try:
        with transaction.atomic():
            return Environment.objects.create(
                namespace=namespace, name=name, created_by=user, auto_apply=bool(auto_apply)
            )
    except IntegrityError:
        raise ValidationError({"name": [TAKEN]}) from None


def set_auto_apply(environment, auto_apply):
    environment.auto_apply = bool(auto_apply)
    environment.updated_at = timezone.now()
    environment.save(update_fields=["auto_apply", "updated_at"])
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
def lock_environment(environment, user, reason):
    """Lock by hand: the lock shows `user` as its holder and the reason."""
    reason = _clean_reason(reason, required=True)
    row = _locked_row(environment)
    if row.locked:
        raise LockError(
            f"The environment is already locked by {row.lock_holder}: {row.lock_reason}"
        )
    now = timezone.now()
    row.locked, row.lock_reason, row.locked_by, row.locked_at = True, reason, user, now
    row.save(update_fields=["locked", "lock_reason", "locked_by", "locked_at"])
    logger.info("Environment %s locked by %s: %s", row.slug, user.username, reason)
    return row


@transaction.atomic
def unlock_environment(environment, user, force=False, reason=""):
    """Release the lock. Releasing a lock someone else holds (a person or a
    run) needs `force`, and the runs app is told so it can log it."""
    reason = _clean_reason(reason, required=False)
    row = _locked_row(environment)
    if not row.locked:
        raise LockError("The environment is not locked.")
    holder = row.lock_holder
    own = row.locked_by_id is not None and row.locked_by_id == user.pk
    if not own and not force:
        raise LockError(
            f"The environment is locked by {holder}: {row.lock_reason}. "
            "Force the unlock to release a lock someone else holds."
        )
    row.locked, row.lock_reason, row.locked_by, row.locked_at = False, "", None, None
    row.save(update_fields=["locked", "lock_reason", "locked_by", "locked_at"])
    logger.info(
        "Environment %s %sunlocked by %s (held by %s)%s",
        row.slug,
        "" if own else "force-",
        user.username,
        holder,
        f": {reason}" if reason else "",
    )
    if own:
        transaction.on_commit(lambda: hooks.environment_unlocked(row))
    else:
        transaction.on_commit(lambda: hooks.environment_force_unlocked(row, user, holder, reason))
    return row
