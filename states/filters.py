"""Filtering the state listing (`GET /terraform/state`) with django-filter."""

import django_filters
from django.db.models import Subquery
from django.db.models.functions import Lower

from accounts.models import Namespace

from .models import EnvironmentState


class StateFilter(django_filters.FilterSet):
    """`username` keeps one namespace's states (any case)."""

    username = django_filters.CharFilter(method="in_namespace", label="One namespace only")

    class Meta:
        model = EnvironmentState
        fields = []

    def in_namespace(self, queryset, _name, value):
        # A scalar subquery, so the database knows it is one namespace and
        # reads state_namespace_idx in order instead of sorting every row.
        named = (
            Namespace.objects.alias(name_lower=Lower("name"))
            .filter(name_lower=value.lower())
            .values("pk")[:1]
        )
        return queryset.filter(namespace_id=Subquery(named))
