"""Configuration version rules: what `terraform push` may send, numbering,
the one-time upload secret, and reading the version a push asks about."""

import hashlib
import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from atlas.flags import parse_flag

from ..crypto import seal_version_tf_vars
from ..models import EXPIRED_UPLOAD, ConfigurationVersion, Environment
from .variables import apply_sent_tf_vars, key_errors, value_errors

MAX_METADATA_BYTES = 64 * 1024


def secret_digest(secret):
    """The stored form of an upload secret: 256 random bits need no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def upload_ttl():
    return timedelta(seconds=settings.ATLAS_UPLOAD_URL_TTL_SECONDS)


def _string_map(value, field):
    """An object of strings (or null: empty), as the Go client declares it."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValidationError({field: ["must be an object whose values are strings"]})
    return value


def _hcl_flag(value, key):
    flag = parse_flag(value)  # a form sends "true" / "false"
    if flag is None:
        raise ValidationError({"tf_vars": [f"{key}: hcl must be true or false"]})
    return flag


def _tf_var_list(value):
    if value is None:
        return None
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        value = [value[k] for k in sorted(value, key=int)]  # a form's tf_vars[0][key]=...
    if not isinstance(value, list):
        raise ValidationError({"tf_vars": ["must be a list of {key, value, hcl}"]})
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValidationError({"tf_vars": [f"entry {index} must be an object"]})
        key = item.get("key")
        if problems := key_errors(key):
            raise ValidationError({"tf_vars": [f"entry {index}: key {key!r} {problems[0]}"]})
        if problems := value_errors(item.get("value")):
            raise ValidationError({"tf_vars": [f"{key}: value {problems[0]}"]})
        items.append({"key": key, "value": item["value"], "hcl": _hcl_flag(item.get("hcl"), key)})
    return items


def parse_version_request(body):
    """(metadata, tf_vars or None) from the `version` object of a create request.

    Accepts exactly what Terraform 0.11 sends (`Version`, `remotes: null`,
    `metadata: null`, `tf_vars`: a list) and the documented Atlas form
    (`metadata`, and `variables`: a map of Terraform variables, the older
    spelling of `tf_vars`). `tf_vars` wins over `variables` for the same key.
    """
    metadata = _string_map(body.get("metadata"), "metadata")
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise ValidationError({"metadata": [f"is larger than {MAX_METADATA_BYTES} bytes"]})
    legacy = _string_map(body.get("variables"), "variables")
    for key, value in legacy.items():
        if problems := key_errors(key) or value_errors(value):
            raise ValidationError({"variables": [f"{key}: {problems[0]}"]})
    tf_vars = _tf_var_list(body.get("tf_vars"))
    if tf_vars is None and not legacy:
        return metadata, None
    merged = [{"key": k, "value": v, "hcl": False} for k, v in legacy.items()]
    return metadata, merged + (tf_vars or [])


def expire_stale_uploads(environment, now=None):
    """Record as errored the pending versions whose upload URL expired unused."""
    now = now or timezone.now()
    return ConfigurationVersion.objects.filter(
        environment=environment,
        status=ConfigurationVersion.Status.PENDING,
        upload_expires_at__lte=now,
    ).update(status=ConfigurationVersion.Status.ERRORED, error=EXPIRED_UPLOAD)


@transaction.atomic
def create_version(environment, user, metadata=None, tf_vars=None):
    """A new pending version numbered after the environment's last, and its
    upload secret (returned once, stored only as a digest).

    The environment row is locked while the number is chosen, so concurrent
    pushes get distinct numbers. Variables sent with the version become the
    environment's (see `apply_sent_tf_vars`).
    """
    now = timezone.now()
    Environment.objects.select_for_update().filter(pk=environment.pk).values_list("pk").first()
    expire_stale_uploads(environment, now)
    last = environment.configuration_versions.aggregate(last=Max("number"))["last"] or 0
    secret = secrets.token_urlsafe(32)
    version = ConfigurationVersion(
        environment=environment,
        number=last + 1,
        metadata=metadata or {},
        created_by=user,
        created_at=now,
        upload_secret_digest=secret_digest(secret),
        upload_expires_at=now + upload_ttl(),
    )
    resolved = apply_sent_tf_vars(environment, tf_vars, user) if tf_vars else []
    seal_version_tf_vars(version, resolved)
    version.save()
    Environment.objects.filter(pk=environment.pk).update(updated_at=now)
    return version, secret


def version_by_secret(environment, secret):
    """The environment's version whose upload secret is `secret`, or None."""
    if not isinstance(secret, str) or not 0 < len(secret) <= 128:
        return None
    return environment.configuration_versions.filter(
        upload_secret_digest=secret_digest(secret)
    ).first()
