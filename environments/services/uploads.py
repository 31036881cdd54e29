"""Receiving a configuration archive at its one-time upload URL.

The body is streamed in chunks into a temporary file, never held whole in
memory, and counted against ATLAS_MAX_ARCHIVE_BYTES; the archive is checked
(`environments.archives`) before anything trusts it, then stored as an
encrypted blob and the version marked finished. Every failure marks the
version errored with its reason and removes the temporary file.
"""

import logging
import tempfile

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from atlas.blobs import BlobTooLarge, delete_blob, write_blob

from .. import hooks
from ..archives import ArchiveRejected, validate_archive
from ..models import ConfigurationVersion
from .versions import secret_digest

logger = logging.getLogger("atlas.environments")

CHUNK = 64 * 1024


class UploadError(Exception):
    """An upload refused; `status` is the HTTP status the API answers with."""

    status = 422

    def __init__(self, message, field="archive"):
        super().__init__(message)
        self.message = message
        self.field = field


class UploadNotFound(UploadError):
    status = 404


class ArchiveTooLarge(UploadError):
    status = 413


class BadUpload(UploadError):
    status = 400


def max_archive_bytes():
    return settings.ATLAS_MAX_ARCHIVE_BYTES


def claim_upload(secret, now=None):
    """The pending version that `secret` may upload to, claimed atomically.

    A secret works once: the claim is an UPDATE conditioned on the secret
    being unused, unexpired and its version pending; of two concurrent
    requests with the same secret exactly one gets the row.
    """
    now = now or timezone.now()
    if not isinstance(secret, str) or not 0 < len(secret) <= 128:
        raise UploadNotFound("This upload URL is unknown, used or expired.", field="base")
    digest = secret_digest(secret)
    claimed = ConfigurationVersion.objects.filter(
        upload_secret_digest=digest,
        upload_used_at__isnull=True,
        upload_expires_at__gt=now,
        status=ConfigurationVersion.Status.PENDING,
    ).update(upload_used_at=now)
    if claimed != 1:
        raise UploadNotFound("This upload URL is unknown, used or expired.", field="base")
    return ConfigurationVersion.objects.select_related("environment__namespace").get(
        upload_secret_digest=digest
    )


def _spool(read, content_length, spool, limit):
    """Copy exactly `content_length` bytes from `read` into `spool`."""
    received = 0
    while received < content_length:
        chunk = read(min(CHUNK, content_length - received))
        if not chunk:
            break
        received += len(chunk)
        if received > limit:
            raise ArchiveTooLarge(f"The archive is larger than {limit} bytes.")
        spool.write(chunk)
    if received == 0:
        raise UploadError("The upload is empty: send the gzipped tar archive as the body.")
    if received < content_length:
        raise BadUpload(f"The upload ended after {received} of {content_length} bytes.")
    spool.flush()
    spool.seek(0)


def _chunks(handle):
    return iter(lambda: handle.read(CHUNK), b"")


def _store(version, read, content_length):
    limit = max_archive_bytes()
    if content_length is None:
        raise BadUpload("Send the archive with a Content-Length header.")
    if content_length > limit:
        raise ArchiveTooLarge(f"The archive is larger than {limit} bytes.")
    with tempfile.NamedTemporaryFile(
        prefix="atlas-upload-", dir=settings.FILE_UPLOAD_TEMP_DIR
    ) as spool:
        _spool(read, content_length, spool, limit)
        try:
            validate_archive(spool)
        except ArchiveRejected as exc:
            raise UploadError(f"The archive was refused: {exc}") from None
        spool.seek(0)
        try:
            return write_blob(
                f"configurations/{version.environment_id}", _chunks(spool), max_bytes=limit
            )
        except BlobTooLarge:
            raise ArchiveTooLarge(f"The archive is larger than {limit} bytes.") from None


def _mark_errored(version, message):
    ConfigurationVersion.objects.filter(pk=version.pk).update(
        status=ConfigurationVersion.Status.ERRORED, error=message, finished_at=timezone.now()
    )
    version.status, version.error = ConfigurationVersion.Status.ERRORED, message


def receive_upload(secret, read, content_length):
    """Take the archive for the version `secret` names; the finished version.

    `read(n)` returns up to n more bytes of the body. Raises UploadError (and
    its subclasses) after marking the version errored with the reason.
    """
    version = claim_upload(secret)
    try:
        info = _store(version, read, content_length)
    except UploadError as exc:
        _mark_errored(version, exc.message)
        raise
    except BaseException:
        _mark_errored(version, "The server failed to store the archive; push again.")
        raise
    try:
        with transaction.atomic():
            ConfigurationVersion.objects.filter(pk=version.pk).update(
                status=ConfigurationVersion.Status.FINISHED,
                finished_at=timezone.now(),
                archive_name=info.name,
                archive_key_id=info.key_id,
                archive_size=info.size,
                archive_sha256=info.sha256_hex,
            )
            version.refresh_from_db()
            transaction.on_commit(lambda: hooks.configuration_version_finished(version))
    except BaseException:
        delete_blob(info.name)
        _mark_errored(version, "The server failed to record the archive; push again.")
        raise
    logger.info(
        "Configuration version %s of %s stored (%s bytes)",
        version.number,
        version.environment.slug,
        info.size,
    )
    return version
