"""The state reads on atlas.fastpath: `GET /api/v1/terraform/state/:username/:name`
(the atlas and http backends) and `GET /api/v2/state-versions/sv-:id/download`
(the remote backend and `cloud {}`).

The same answers as `StateView.get` for a valid token (any header form,
Basic with its owner's name), in two queries: the head the token's user
may read, or the view's 404 (no state yet, as Terraform's first read
finds, or no access). A run's own token reads what the person who queued
the run may read now (its allow-list's READ_STATE,
accounts.privileges.run_token_allows), which is the same rule: the
worker's state reads take this path too.

The download answers as `DownloadView.get` does for a person's token and a
version of an environment they may read, in two queries as well: the token
and the version with the same privilege rule (`selectors.readable_version`).
A run's token and a version not found are left to the stack.

Everything else declines (None) and the token API stack answers: no or a
bad token (401 and the failure throttle). `atlas/tests/test_fastpath.py`
pins every case against the stack.
"""

from django.http import HttpResponse
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer

from accounts import tokens
from accounts.privileges import is_run_token
from atlas.api.authentication import credentials, names_its_owner
from atlas.api.exceptions import NOT_FOUND_MESSAGE, error_body
from atlas.fastpath import Route
from states import selectors
from states.responses import state_response

from .v2 import VERSION_PREFIX, DownloadView
from .views import StateView

NAME = r"[A-Za-z0-9_.-]{1,64}"  # wider than accounts.names: a stricter check 404s later
STATE_PATH = rf"/api/v1/terraform/state/(?P<username>{NAME})/(?P<name>{NAME})"
DOWNLOAD_PATH = rf"/api/v2/state-versions/{VERSION_PREFIX}(?P<number>[0-9]{{1,18}})/download"


def _view_headers(view_class):
    """What DRF adds to every answer of the view: `Allow`, its methods."""
    view = view_class()
    view.setup(None)  # as as_view() does: HEAD is served by GET
    return view.default_response_headers


STATE_VIEW_HEADERS = _view_headers(StateView)
DOWNLOAD_VIEW_HEADERS = _view_headers(DownloadView)
# The view's 404, as atlas.api.exceptions renders it.
NOT_FOUND_BODY = JSONRenderer().render(error_body(NotFound(NOT_FOUND_MESSAGE).detail))


def _token(request):
    """The valid token the request carries, or None: the stack refuses it,
    counting the failure."""
    found = credentials(request)
    if found is None:
        return None
    scheme, text, basic_username = found
    token = tokens.authenticate(text)
    if token is None or not names_its_owner(scheme, basic_username, token):
        return None
    return token


def _with_headers(response, headers):
    for header, value in headers.items():
        response[header] = value
    return response


def read_state(request, username, name):
    token = _token(request)
    if token is None:
        return None
    version = selectors.readable_head(token.user, username, name)
    if version is None:
        response = HttpResponse(NOT_FOUND_BODY, status=404, content_type="application/json")
    else:
        response = state_response(version)
    return _with_headers(response, STATE_VIEW_HEADERS)


def download_state(request, number):
    """A version the caller's own token may read. A run's token, and any
    version not found (the JSON:API 404, rare here), are the stack's."""
    token = _token(request)
    if token is None or is_run_token(token):
        return None
    version = selectors.readable_version(token.user, int(number))
    if version is None:
        return None
    return _with_headers(state_response(version), DOWNLOAD_VIEW_HEADERS)


STATE_READ = Route(STATE_PATH, read_state)
# /api/v2 views answer JSON:API whatever the client accepts (AlwaysJSONAPI).
STATE_DOWNLOAD = Route(DOWNLOAD_PATH, download_state, any_accept=True)
