"""What every /api/v2 (TFE v2) view shares: JSON:API documents, errors,
pagination and the version header.

The shapes are those go-tfe (and so Terraform's `remote` backend and `cloud`
block) parses: `{"data": {"id", "type", "attributes", "relationships"}}` with
dasherized attribute names, lists with `meta.pagination`, and errors as
`{"errors": [{"status", "title", "detail"}]}`. They are built by hand from
plain dicts: a JSON:API package for DRF would impose its own model-driven
serializers for a dozen fixed shapes.

The errors are computed by the /api/v1 exception handler (one place decides
statuses and messages) and only reshaped here.
"""

import math

from django.http import JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from atlas.api.exceptions import exception_handler as v1_exception_handler
from atlas.api.parsers import BoundedJSONParser

API_VERSION = "2.5"
VERSION_HEADER = "TFP-API-Version"
MEDIA_TYPE = "application/vnd.api+json"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

TITLES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "payload too large",
    415: "unsupported media type",
    422: "invalid attribute",
    429: "too many requests",
    500: "internal server error",
    503: "service unavailable",
}


class JSONAPIRenderer(JSONRenderer):
    media_type = MEDIA_TYPE
    format = "jsonapi"


class JSONAPIParser(BoundedJSONParser):
    media_type = MEDIA_TYPE


def error_objects(status, body):
    """JSON:API error objects from an /api/v1 error body `{"errors": {field: [..]}}`."""
    title = TITLES.get(status, "error")
    errors = []
    for field, messages in (body or {}).get("errors", {}).items():
        for message in messages:
            error = {"status": str(status), "title": title, "detail": message}
            if field != "base":
                error["detail"] = f"{field} {message}"
                error["source"] = {"pointer": f"/data/attributes/{field}"}
            errors.append(error)
    return errors or [{"status": str(status), "title": title}]


def error_document(status, detail):
    return {"errors": [{"status": str(status), "title": TITLES.get(status, "error"), **(
        {"detail": detail} if detail else {}
    )}]}  # fmt: skip


def exception_handler(exc, context):
    response = v1_exception_handler(exc, context)
    if response is not None:
        response.data = {"errors": error_objects(response.status_code, response.data)}
    return response


def json_error(status, detail=""):
    """A JSON:API error for code outside DRF views (middleware, upload URLs)."""
    return JsonResponse(error_document(status, detail), status=status, content_type=MEDIA_TYPE)


class AlwaysJSONAPI(BaseContentNegotiation):
    """Answer JSON:API whatever the Accept header says: clients send
    `application/vnd.api+json`, `application/json` or nothing, and a state
    download is its raw bytes anyway."""

    def select_parser(self, request, parsers):
        content_type = request.content_type.split(";")[0].strip().lower()
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return parsers[0] if parsers and not content_type else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class V2View(APIView):
    """Base of every /api/v2 view: JSON:API in and out, JSON:API errors."""

    renderer_classes = [JSONAPIRenderer]
    parser_classes = [JSONAPIParser, BoundedJSONParser]
    content_negotiation_class = AlwaysJSONAPI

    def get_exception_handler(self):
        return exception_handler


def id_number(identifier, prefix):
    """The number of a TFE id (`ws-42` for the prefix `ws-`), or None when
    it is not one. Digits are ASCII only: str.isdigit() also takes other
    scripts' (`ws-\u0661` would name ws-1)."""
    number = identifier.removeprefix(prefix)
    if not identifier.startswith(prefix) or not (number.isascii() and number.isdigit()):
        return None
    return int(number)


def resource(kind, identifier, attributes, relationships=None, links=None):
    data = {"id": str(identifier), "type": kind, "attributes": attributes}
    if relationships:
        data["relationships"] = relationships
    if links:
        data["links"] = links
    return data


def relation(kind, identifier):
    return {"data": None if identifier is None else {"id": str(identifier), "type": kind}}


def timestamp(moment):
    """RFC 3339 in UTC with milliseconds, as TFE writes its times."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _page_param(request, name, default, maximum=None):
    raw = request.query_params.get(f"page[{name}]")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ParseError({f"page[{name}]": [f"must be a positive integer, got {raw!r}"]})
    return min(value, maximum) if maximum else value


def paginate(request, rows):
    """(one page of `rows`, `meta` with TFE's pagination) for `page[number]`/`page[size]`."""
    number = _page_param(request, "number", 1)
    size = _page_param(request, "size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    total = rows.count() if hasattr(rows, "count") and not isinstance(rows, list) else len(rows)
    pages = max(1, math.ceil(total / size))
    start = (number - 1) * size
    page = list(rows[start : start + size])
    meta = {
        "pagination": {
            "current-page": number,
            "page-size": size,
            "prev-page": number - 1 if number > 1 else None,
            "next-page": number + 1 if number < pages else None,
            "total-pages": pages,
            "total-count": total,
        }
    }
    return page, meta


def body_data(request, kind=None):
    """`data` of a JSON:API request body (an object), checking its `type` when given."""
    data = request.data
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        raise ParseError("The body must be a JSON:API document with a `data` object.")
    data = data["data"]
    if kind is not None and data.get("type") not in (None, kind):
        raise ParseError(f"data.type must be {kind!r}.")
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise ParseError("data.attributes must be an object.")
    return data, attributes


class VersionHeaderMiddleware:
    """`TFP-API-Version: 2.5` on every /api/v2 answer (`cloud` refuses below 2.5)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/v2/") or request.path == "/api/v2":
            response[VERSION_HEADER] = API_VERSION
        return response
