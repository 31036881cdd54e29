"""The state read on atlas.fastpath: `GET /api/v1/terraform/state/:username/:name`.

The same answers as `StateView.get` for a valid token (any header form,
Basic with its owner's name), in two queries: the head the token's user
may read, or the view's 404 (no state yet, as Terraform's first read
finds, or no access). A run's own token reads what the person who queued
the run may read now (its allow-list's READ_STATE,
accounts.privileges.run_token_allows), which is the same rule: the
worker's state reads take this path too. Everything else declines (None)
and the token API stack answers: no or a bad token (401 and the failure
throttle). `atlas/tests/test_fastpath.py` pins both kinds of token against
the stack.
"""

from django.http import HttpResponse
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer

from accounts import tokens
from atlas.api.authentication import credentials, names_its_owner
from atlas.api.exceptions import NOT_FOUND_MESSAGE, error_body
from atlas.fastpath import Route
from states import selectors
from states.responses import state_response

from .views import StateView

NAME = r"[A-Za-z0-9_.-]{1,64}"  # wider than accounts.names: a stricter check 404s later
STATE_PATH = rf"/api/v1/terraform/state/(?P<username>{NAME})/(?P<name>{NAME})"


def _view_headers():
    """What DRF adds to every answer of the view: `Allow`, its methods."""
    view = StateView()
    view.setup(None)  # as as_view() does: HEAD is served by GET
    return view.default_response_headers


VIEW_HEADERS = _view_headers()
# The view's 404, as atlas.api.exceptions renders it.
NOT_FOUND_BODY = JSONRenderer().render(error_body(NotFound(NOT_FOUND_MESSAGE).detail))


def read_state(request, username, name):
    found = credentials(request)
    if found is None:
        return None
    scheme, text, basic_username = found
    token = tokens.authenticate(text)
    if token is None or not names_its_owner(scheme, basic_username, token):
        return None  # the stack refuses it, counting the failure
    version = selectors.readable_head(token.user, username, name)
    if version is None:
        response = HttpResponse(NOT_FOUND_BODY, status=404, content_type="application/json")
    else:
        response = state_response(version)
    for header, value in VIEW_HEADERS.items():
        response[header] = value
    return response


STATE_READ = Route(STATE_PATH, read_state)
