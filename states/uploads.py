"""TFE state versions announced first and uploaded later (Terraform 1.6+).

`announce` checks the lock and the conflict rule against what the client
announced (serial, lineage, MD5), so a doomed write is refused before any
byte is sent, and hands out two single-use secrets. `claim` takes an upload
URL's secret exactly once (a conditional UPDATE: two racing PUTs cannot
both use it); the body is then written by `services.write_state`, which
decides again under the row locks.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from environments.locking import write_refusal
from environments.models import Environment

from .models import EnvironmentState, StateUpload
from .rules import Decision, Outcome, decide_announced
from .services import as_head


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def precheck(environment, serial, lineage, md5, user=None, token=None, door="tfe"):
    """The decision a write announced by serial, lineage and MD5 would get now."""
    locked = Environment.objects.select_related("namespace", "locked_by").get(pk=environment.pk)
    refusal = write_refusal(locked, user=user, token=token, door=door)
    if refusal:
        return Decision(Outcome.LOCKED, refusal, locked)
    state = EnvironmentState.objects.select_related("head").filter(pk=environment.pk).first()
    head = as_head(state.head) if state else None
    return decide_announced(head, serial, lineage, md5, state.max_serial if state else None)


def announce(environment, serial, lineage, md5, user, token):
    """(upload, raw secret, JSON secret) of a new pending upload."""
    raw, rendered = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    upload = StateUpload.objects.create(
        environment=environment,
        serial=serial,
        lineage=lineage,
        md5=md5,
        secret_digest=digest(raw),
        json_secret_digest=digest(rendered),
        expires_at=timezone.now() + timedelta(seconds=settings.ATLAS_UPLOAD_URL_TTL_SECONDS),
        created_by=user if user is not None and user.is_authenticated else None,
        token=token,
    )
    return upload, raw, rendered


def claim(secret, json=False):
    """The upload whose (raw or JSON) secret this is, marked used; None when
    unknown, used or expired: every such URL answers the same 404."""
    field = "json_secret_digest" if json else "secret_digest"
    used = "json_used_at" if json else "used_at"
    now = timezone.now()
    with transaction.atomic():
        rows = StateUpload.objects.filter(
            **{field: digest(secret), f"{used}__isnull": True, "expires_at__gt": now}
        )
        upload = rows.select_related("environment__namespace", "created_by", "token").first()
        if upload is None or not rows.filter(pk=upload.pk).update(**{used: now}):
            return None
    return upload


def landed(upload, version=None, error=""):
    StateUpload.objects.filter(pk=upload.pk).update(version=version, error=error[:2000])
    upload.version, upload.error = version, error
