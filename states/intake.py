"""Reading a state body from the request: bounded, in chunks, counted.

The body is never read through `request.body` or a DRF parser, so Django's
DATA_UPLOAD_MAX_MEMORY_SIZE (meant for forms) does not apply to it; the
limit is ATLAS_MAX_STATE_BYTES:

- a Content-Length above the limit is refused with 413 before a byte is read;
- a body without Content-Length (chunked, which gunicorn decodes and marks
  with `wsgi.input_terminated`) is counted as it is read and refused with
  413 as soon as it passes the limit;
- a body shorter than its Content-Length (the client went away) is a 400.

The plaintext stays in this one buffer in memory: it never goes to a
temporary file, where a copy of a secret would outlive the request.
"""

import base64
import binascii

from django.conf import settings
from rest_framework.exceptions import ParseError

from atlas.api.exceptions import PayloadTooLarge

CHUNK = 256 * 1024


def too_large(limit):
    return PayloadTooLarge(
        f"The state is larger than this server's limit of {limit} bytes (ATLAS_MAX_STATE_BYTES)."
    )


def read_body(request, limit=None):
    """The whole body as a bytearray, read in chunks and never beyond `limit`."""
    limit = settings.ATLAS_MAX_STATE_BYTES if limit is None else limit
    request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    meta = request.META
    raw_length = meta.get("CONTENT_LENGTH") or ""
    if raw_length.strip():
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            raise ParseError({"Content-Length": ["must be a non-negative integer"]})
        if length > limit:
            raise too_large(limit)
        return _read_exactly(request, length)
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and meta.get("wsgi.input_terminated"):
        return _read_to_end(meta["wsgi.input"], limit)
    return bytearray()


def _read_exactly(request, length):
    # One buffer of the announced size; Django's stream never reads past it.
    body = bytearray(length)
    view = memoryview(body)
    pos = 0
    while pos < length:
        chunk = request.read(min(CHUNK, length - pos))
        if not chunk:
            raise ParseError(f"The body ended after {pos} of {length} bytes (Content-Length).")
        view[pos : pos + len(chunk)] = chunk
        pos += len(chunk)
    return body


def _read_to_end(stream, limit):
    body = bytearray()
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return body
        if len(body) + len(chunk) > limit:
            raise too_large(limit)
        body += chunk


def content_md5(request):
    """The hex MD5 a client announced in `Content-MD5` (base64, RFC 1864), or None."""
    raw = request.META.get("HTTP_CONTENT_MD5")
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise ParseError({"Content-MD5": ["must be the base64 of a 16-byte MD5 digest"]})
    return digest.hex()
