"""One place that turns every API error into `{"errors": {...}}`.

Field errors keep their field names; everything else goes under `base`.
Unexpected exceptions become a plain 500 without internals; an unreachable
database is a 503 with `Retry-After` (see DatabaseUnavailableMiddleware).
"""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .authentication import BAD_TOKEN_MESSAGE

logger = logging.getLogger("atlas.api")

NOT_FOUND_MESSAGE = "Not found."
DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable; retry shortly."
RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exc):
    """Whether `exc` is the database failing (down, restarting, connection
    lost, too busy), as opposed to a bug: worth a retry, so a 503."""
    return isinstance(exc, (OperationalError, InterfaceError))


def _messages(detail):
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, (list, tuple)):
        return [m for value in detail for m in _messages(value)]
    return [str(detail)]


def error_body(detail):
    """`{"errors": {field: [messages]}}` from a DRF error detail."""
    if isinstance(detail, dict):
        errors = {}
        for field, value in detail.items():
            key = "base" if field in ("non_field_errors", "detail") else str(field)
            errors.setdefault(key, []).extend(_messages(value))
        return {"errors": errors}
    return {"errors": {"base": _messages(detail)}}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND_MESSAGE)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"base": exc.messages}
        exc = Unprocessable(detail)
    if isinstance(exc, exceptions.NotAuthenticated):
        exc.detail = BAD_TOKEN_MESSAGE
    if is_database_unavailable(exc):
        logger.warning("Database unavailable in an API view: %s", exc)
        set_rollback()
        return Response(
            {"errors": {"base": [DATABASE_UNAVAILABLE_MESSAGE]}},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if not isinstance(exc, exceptions.APIException):
        logger.exception("Unhandled error in API view", exc_info=exc)
        set_rollback()
        return Response(
            {"errors": {"base": ["Internal server error."]}},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()
    return Response(error_body(exc.detail), status=exc.status_code, headers=headers)


def json_error(status_code, message, field="base", headers=None):
    """A JSON error response for code outside DRF views (middleware, handlers)."""
    response = JsonResponse({"errors": {field: [message]}}, status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class Unprocessable(exceptions.APIException):
    """Well-formed but invalid input: 422 naming the field."""

    status_code = 422
    default_detail = "is invalid"
    default_code = "invalid"


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "Conflict."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The body is too large."
    default_code = "too_large"
