"""The request being served, for code that every door calls.

Set by accounts.middleware for every request; the audit trail reads who
acts and from where, and emails build absolute links from it. Outside a
request (the worker, management commands) there is none.
"""

import contextlib
import contextvars

from django.conf import settings

_request = contextvars.ContextVar("atlas_request", default=None)


@contextlib.contextmanager
def request_context(request):
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


def current_request():
    return _request.get()


def client_address(request):
    return (request.META.get("REMOTE_ADDR", "") or "") if request is not None else ""


def absolute_url(path):
    """`path` on this server: ATLAS_EXTERNAL_URL, else the host of the request."""
    if settings.EXTERNAL_URL:
        return settings.EXTERNAL_URL + path
    request = current_request()
    if request is not None:
        return request.build_absolute_uri(path)
    return f"http://127.0.0.1:{settings.PORT}{path}"
