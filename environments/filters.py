"""Filtering environment lists, for the API and the web list alike (django-filter).

`namespace` (or `username`, the API's name for it) keeps one namespace, in
any case; `q` searches names: `text` in the environment's or its
namespace's name, or `namespace/name` for both parts. Visibility is not a
filter: the caller's queryset holds only what they may read.
"""

import django_filters
from django.db.models import Q

MAX_SEARCH = 130


class EnvironmentFilter(django_filters.FilterSet):
    namespace = django_filters.CharFilter(
        field_name="namespace__name", lookup_expr="iexact", label="Namespace"
    )
    username = django_filters.CharFilter(
        field_name="namespace__name", lookup_expr="iexact", label="Namespace (the API's name)"
    )
    q = django_filters.CharFilter(method="search", label="Name contains")

    def search(self, queryset, _name, value):
        text = value.strip()[:MAX_SEARCH]
        if not text:
            return queryset
        if "/" in text:
            namespace, _slash, name = text.partition("/")
            return queryset.filter(
                namespace__name__icontains=namespace.strip(), name__icontains=name.strip()
            )
        return queryset.filter(Q(name__icontains=text) | Q(namespace__name__icontains=text))
