"""Middleware that guards every request before any view sees it."""

import logging
import sys

from csp import middleware as csp_middleware
from csp.constants import HEADER as CSP_HEADER
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import got_request_exception
from django.http import HttpResponse
from django.shortcuts import render

from atlas.api.exceptions import (
    DATABASE_UNAVAILABLE_MESSAGE,
    RETRY_AFTER_SECONDS,
    is_database_unavailable,
    json_error,
)
from atlas.bodies import BodyRefused, enforce_body_limit, view_streams_body
from atlas.proxies import resolve_client
from atlas.text import HOSTILE_TEXT_MESSAGE, is_clean_text

logger = logging.getLogger("atlas.db")

_DATABASE_FAILED = "_atlas_database_unavailable"
ERROR_TITLES = {400: "Bad request", 413: "Request too large"}


def refuse(request, status, message, field="base"):
    """The error answer outside a view: JSON under /api/, a page elsewhere."""
    if request.path.startswith("/api/"):
        return json_error(status, message, field=field)
    title = ERROR_TITLES.get(status, "Request refused")
    context = {"title": title, "message": message if field == "base" else f"{field} {message}."}
    return render(request, "error.html", context, status=status)


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """django-csp's middleware with the policy built once, not on every response.

    Building it costs tens of microseconds, a measurable share of a small
    API answer. It is the same string on every response unless a view
    changes it (django-csp's decorators), asks for a nonce, or a
    report-only policy is configured: then django-csp builds it as usual.
    """

    _built_for = None
    _header = ""

    def process_response(self, request, response):
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(
                getattr(response, name, None)
                for name in ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt")
            )
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy is not self._built_for:
            self._header, self._built_for = build_policy(), policy
        if CSP_HEADER not in response:
            response[CSP_HEADER] = self._header
        request.csp_nonce = csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response


class TrustedProxyMiddleware:
    """Take the client's address from a trusted proxy's X-Forwarded-For.

    From any other peer the forwarded headers are dropped (atlas.proxies),
    so Django's X-Forwarded-Host/-Proto handling only ever sees a trusted
    proxy's. Listed first: everything after it sees the client's address.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        resolve_client(request.META)
        return self.get_response(request)


class HostileTextMiddleware:
    """Refuse a NUL in the path or the query string with 400.

    Bodies are checked by the API's parsers and Django's form fields; this
    covers what reaches a view as URL arguments or query parameters (Django
    decodes both without ever producing a lone surrogate, but `%00` is a NUL).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            return refuse(request, 400, f"The path {HOSTILE_TEXT_MESSAGE}.")
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            for name, values in request.GET.lists():
                if not all(is_clean_text(text) for text in (name, *values)):
                    field = name if is_clean_text(name) else "base"
                    return refuse(request, 400, HOSTILE_TEXT_MESSAGE, field=field)
        return self.get_response(request)


class BodyLimitMiddleware:
    """ATLAS_MAX_BODY_BYTES for every body but the streamed uploads (atlas.bodies).

    In process_view, once the URL names the view (and so whether it streams
    its own body) and before any other middleware or the view reads it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if view_streams_body(view_func, request.method):
            return None
        try:
            enforce_body_limit(request)
        except BodyRefused as refused:
            return refuse(request, refused.status, refused.message)
        return None


class QueryStringTokenMiddleware:
    """Refuse API tokens in the query string.

    URLs end up in proxy logs, browser history and referrers, so a token
    there is a leaked token. The client is told to use the header; the
    request goes no further and its query string is never logged by us.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and "access_token" in request.GET:
            return json_error(
                400,
                "Do not send tokens in the URL; send them in the X-Atlas-Token header.",
            )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Answer 503 with `Retry-After`, not 500, while the database is unreachable.

    A PostgreSQL restart or failover makes every query fail for a few
    seconds; clients (Terraform's HTTP client among them) retry a 503, and
    an operator reading the logs sees an outage rather than a bug. Under
    /api/ the answer is the usual JSON error, elsewhere a plain page that
    needs neither templates nor the database. DRF views are answered by
    `atlas.api.exceptions.exception_handler`; this covers plain views and
    template rendering (`process_exception`) and, listed first in
    MIDDLEWARE, whatever the middleware below it raised (a session saved
    while the database was down): those become a 500 before they reach
    here, so the failure is remembered on the request and the 500 replaced.
    Django drops a broken connection at the end of the request and opens a
    new one on the next, so service resumes as soon as the database does.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _DATABASE_FAILED, False):
            return database_unavailable_response(request)
        return response

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            logger.warning("Database unavailable at %s: %s", request.path, exception)
            return database_unavailable_response(request)
        return None


def database_unavailable_response(request):
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/api/"):
        return json_error(503, DATABASE_UNAVAILABLE_MESSAGE, headers=headers)
    response = HttpResponse(
        "<!doctype html><title>Service unavailable</title>"
        f"<h1>Service unavailable</h1><p>{DATABASE_UNAVAILABLE_MESSAGE}</p>",
        status=503,
        content_type="text/html; charset=utf-8",
        headers=headers,
    )
    return response


def _remember_database_failure(sender, request=None, **kwargs):
    """Mark the request whose uncaught exception was the database's."""
    if request is not None and is_database_unavailable(sys.exc_info()[1]):
        setattr(request, _DATABASE_FAILED, True)


got_request_exception.connect(_remember_database_failure, dispatch_uid="atlas-database-unavailable")
