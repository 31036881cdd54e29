"""A fast path ahead of Django's dispatch for the hottest token-authenticated reads.

Terraform reads a state on every command. The answer is one token query,
one head query and the stored bytes, and Django's request handling, the
API middleware and DRF's dispatch around them cost more than all three
(bench/README.md). So a few routes are answered here, from the WSGI
environ, before any of that machinery runs:

- a route takes only what it answers in full: the plain, successful case
  of a request it fully understands (method, path, query, no body, an
  acceptable `Accept`). Anything else, every refusal included, returns
  None and the request goes through the token API stack as if this module
  did not exist, so every error keeps its status, shape and side effects
  (the failure throttle, logging, the 503 of an unreachable database);
- the answer gets exactly the headers of that stack: the header-adding
  middleware of the stack runs its own hooks on it (SecurityMiddleware,
  CSP, X-Frame-Options, CommonMiddleware), the others are honoured as
  `REVIEWED` says;
- a middleware added to settings.MIDDLEWARE later, or one removed, turns
  the fast path off (with a warning) until it is reviewed here: nothing
  is ever silently skipped.

`atlas/tests/test_fastpath.py` compares every answer with the stack's.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.core.handlers.wsgi import WSGIRequest
from django.utils.log import log_response
from django.utils.module_loading import import_string

from atlas.api.jsonapi import API_VERSION, VERSION_HEADER
from atlas.proxies import resolve_client

logger = logging.getLogger("atlas.fastpath")

HOOKS = "its own process_request and process_response run on the request"

# The token API stack, in order, and how the fast path honours each one.
REVIEWED = {
    "atlas.middleware.DatabaseUnavailableMiddleware": (
        "any exception declines: the stack answers (503 for the database)"
    ),
    "atlas.middleware.TrustedProxyMiddleware": "resolve_client on a copy of the environ",
    "atlas.api.jsonapi.VersionHeaderMiddleware": "the same header under /api/v2",
    "django.middleware.security.SecurityMiddleware": HOOKS,
    "atlas.middleware.CSPMiddleware": HOOKS,
    "django.middleware.clickjacking.XFrameOptionsMiddleware": HOOKS,
    "atlas.middleware.QueryStringTokenMiddleware": "routes take no access_token",
    "atlas.middleware.HostileTextMiddleware": "route paths and queries are plain ASCII",
    "atlas.middleware.BodyLimitMiddleware": "routes take no body",
    "django.middleware.common.CommonMiddleware": HOOKS,
    "accounts.middleware.RequestContextMiddleware": "routes only read: nothing is audited",
}

# What a route's query string may hold: Terraform's `?atlas_run_id=` (empty
# outside a run), nothing else.
PLAIN_QUERY = re.compile(r"(?:atlas_run_id=[A-Za-z0-9_-]{0,128})?")
# `Accept` types for which DRF's negotiation picks the JSON renderer; a
# header with none of them, or with parameters (quality values), declines.
ACCEPTED = frozenset({"", "*/*", "application/*", "application/json"})


@dataclass(frozen=True)
class Route:
    """`answer(request, **groups)` for a GET whose PATH_INFO matches `path`
    (a regular expression) in full; it returns a response or None.
    `any_accept`: the view answers whatever `Accept` says (the /api/v2
    views' negotiation), so the header is not looked at."""

    path: str
    answer: Callable
    any_accept: bool = False


def _no_response(request):  # the stack's inner handler is never reached here
    raise AssertionError("The fast path never calls the view.")


def _acceptable(environ):
    accept = environ.get("HTTP_ACCEPT", "")
    return ";" not in accept and any(item.strip() in ACCEPTED for item in accept.split(","))


def _has_body(environ):
    return environ.get("CONTENT_LENGTH", "") not in ("", "0") or "HTTP_TRANSFER_ENCODING" in environ


class FastPath:
    """`answer(environ)`: a finished response, or None for the token API stack."""

    def __init__(self, routes, stack):
        """`routes`: import paths of Routes; `stack`: the token API stack's middleware."""
        self.routes = [(re.compile(route.path), route) for route in map(import_string, routes)]
        self.enabled = stack == list(REVIEWED)
        if not self.enabled:
            logger.warning(
                "The fast path is off: the API middleware differs from the reviewed one "
                "(atlas.fastpath.REVIEWED); every request takes the full stack."
            )
        hooked = [
            import_string(path)(_no_response)
            for path in (stack if self.enabled else ())
            if REVIEWED[path] == HOOKS
        ]
        self._request_hooks = [m.process_request for m in hooked if hasattr(m, "process_request")]
        self._response_hooks = [
            m.process_response for m in reversed(hooked) if hasattr(m, "process_response")
        ]

    def _route(self, path):
        for pattern, route in self.routes:
            found = pattern.fullmatch(path)
            if found is not None:
                return route, found.groupdict()
        return None

    def match(self, environ):
        """(a route, its path arguments) for a request it may take, or None."""
        if not self.enabled or environ.get("REQUEST_METHOD") != "GET":
            return None
        found = self._route(environ.get("PATH_INFO", ""))
        if found is None:
            return None
        if not PLAIN_QUERY.fullmatch(environ.get("QUERY_STRING", "")):
            return None
        if _has_body(environ) or not (found[0].any_accept or _acceptable(environ)):
            return None
        return found

    def answer(self, environ, matched=None):
        """The response to a request `match` took (`matched`, its result, when
        the caller has it already), or None: the stack answers.

        The environ is copied before the trusted proxy rewrites it, so a
        declined request reaches the stack as it came.
        """
        matched = matched or self.match(environ)
        if matched is None:
            return None
        route, arguments = matched
        meta = dict(environ)
        resolve_client(meta)
        request = WSGIRequest(meta)
        response = None
        try:
            for hook in self._request_hooks:
                if hook(request) is not None:
                    return None  # a redirect (SECURE_SSL_REDIRECT) or a refusal
            response = route.answer(request, **arguments)
            if response is None:
                return None
            for hook in self._response_hooks:
                response = hook(request, response)
        except Exception:
            # Every failure is the stack's to answer and log (a bad Host, an
            # unreachable database, a damaged blob): it meets it again.
            if response is not None:
                _release(response)
            return None
        if request.path.startswith("/api/v2/"):
            response[VERSION_HEADER] = API_VERSION
        if response.status_code >= 400:  # as Django's handler logs them
            log_response(
                f"{response.reason_phrase}: {request.path}", response=response, request=request
            )
        response.wsgi_request = request
        return response


def _release(response):
    """Close what an abandoned response holds open (a blob being streamed)
    without `close()`, whose request_finished signal belongs to the request
    that the stack is about to serve."""
    for closer in response._resource_closers:
        closer()
