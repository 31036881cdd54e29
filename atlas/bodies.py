"""One limit for every request body, except the uploads that stream their own.

DRF's parsers and Django's form parsing read a body whole, into memory; the
limit (ATLAS_MAX_BODY_BYTES) is what keeps that bounded. It is applied once
the URL names a view and before anything reads the body:

- a Content-Length above the limit is refused with 413, unread;
- a chunked body (no Content-Length; gunicorn decodes it and marks
  `wsgi.input_terminated`) is read up to the limit and refused with 413 the
  moment it passes it; a smaller one is handed on as if its length had been
  declared, so every parser sees it.

The handlers that stream a large body to storage under their own limits
(state PUT, configuration archives) say so with `@streams_body`.
"""

import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream

CHUNK = 64 * 1024


class BodyRefused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def streams_body(handler):
    """Mark a view's handler (`put`, or a viewset action) as reading its own body.

    Such a handler is exempt from ATLAS_MAX_BODY_BYTES and must enforce a
    limit of its own while it reads, in chunks.
    """
    handler.streams_body = True
    return handler


def view_streams_body(view_func, method):
    """Whether the handler that `view_func` runs for `method` is marked `@streams_body`."""
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    if view_class is None:
        return getattr(view_func, "streams_body", False)
    actions = getattr(view_func, "actions", None) or {}
    name = actions.get(method.lower(), method.lower())
    return getattr(getattr(view_class, name, None), "streams_body", False)


def declared_length(meta):
    """The request's Content-Length as an int, or None when it is absent or
    not a non-negative integer (the body is then read to its end, bounded)."""
    declared = (meta.get("CONTENT_LENGTH") or "").strip()
    return int(declared) if declared.isascii() and declared.isdigit() else None


def too_large_message(limit):
    return f"The body is larger than this server's limit of {limit} bytes."


def enforce_body_limit(request, limit=None):
    """Refuse (BodyRefused) a body over `limit`; buffer a chunked one under it."""
    limit = settings.ATLAS_MAX_BODY_BYTES if limit is None else limit
    meta = request.META
    declared = (meta.get("CONTENT_LENGTH") or "").strip()
    if declared:
        if not declared.isdigit():
            raise BodyRefused(400, "Content-Length must be a non-negative integer.")
        if int(declared) > limit:
            raise BodyRefused(413, too_large_message(limit))
        return
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not (chunked and meta.get("wsgi.input_terminated")):
        return  # no body at all, as far as Django is concerned
    body = _read_at_most(meta["wsgi.input"], limit)
    # Django wraps the input in a stream of the declared length when the
    # request is made; the buffered body takes its place, with its length.
    request._stream = LimitedStream(io.BytesIO(body), len(body))
    meta["CONTENT_LENGTH"] = str(len(body))


def _read_at_most(stream, limit):
    body = bytearray()
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return bytes(body)
        if len(body) + len(chunk) > limit:
            raise BodyRefused(413, too_large_message(limit))
        body += chunk
