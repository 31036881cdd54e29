"""`?page=` and `?per_page=` pagination with `meta.total`, as Atlas did.

Lists answer `{"<plural>": [...], "meta": {"total", "page", "per_page"}}`.
A page past the end is an empty list, not an error, however large its number
(no database is asked for an offset beyond its integers); a page or per_page
that is not a positive integer in ASCII digits is a 400.
"""

from rest_framework.exceptions import ParseError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


# Far beyond any database's integers, and within Python's int-from-text limit.
MAX_DIGITS = 4000


def _positive_int(request, name, default):
    raw = request.query_params.get(name)
    if raw is None:
        return default
    text = raw.strip()
    # isdigit alone also takes other scripts' digits; int() would take "1_0".
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS or int(text) < 1:
        raise ParseError({name: [f"must be a positive integer, got {raw[:40]!r}"]})
    return int(text)


class AtlasPagination(BasePagination):
    envelope = "results"

    def paginate_queryset(self, queryset, request, view=None):
        self.page = _positive_int(request, "page", 1)
        self.per_page = min(_positive_int(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        self.total = queryset.count() if hasattr(queryset, "count") else len(queryset)
        start = (self.page - 1) * self.per_page
        if self.page > 1 and start >= self.total:
            return []  # past the end, without asking for an offset of any size
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
