"""`?page=` and `?per_page=` pagination with `meta.total`, as Atlas did.

Lists answer `{"<plural>": [...], "meta": {"total", "page", "per_page"}}`.
A page past the end is an empty list, not an error; a page or per_page that
is not a positive integer is a 400.
"""

from rest_framework.exceptions import ParseError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def _positive_int(request, name, default):
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ParseError({name: [f"must be a positive integer, got {raw!r}"]})
    return value


class AtlasPagination(BasePagination):
    envelope = "results"

    def paginate_queryset(self, queryset, request, view=None):
        self.page = _positive_int(request, "page", 1)
        self.per_page = min(_positive_int(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        self.total = queryset.count() if hasattr(queryset, "count") else len(queryset)
        start = (self.page - 1) * self.per_page
        return list(queryset[start : start + self.per_page])

    def get_paginated_response(self, data):
        return Response({self.envelope: data, "meta": self.meta()})

    def meta(self):
        return {"total": self.total, "page": self.page, "per_page": self.per_page}

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "properties": {
                self.envelope: schema,
                "meta": {
                    "type": "object",
                    "properties": {
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                    },
                },
            },
        }


def envelope_pagination(plural):
    """The pagination class for a list whose items sit under `plural`."""
    return type(f"{plural.title()}Pagination", (AtlasPagination,), {"envelope": plural})
