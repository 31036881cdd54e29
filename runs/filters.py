"""Filtering run lists by status, for the API and the web list alike (django-filter)."""

import django_filters

from .models import Run, Status


class RunFilter(django_filters.FilterSet):
    """`status` keeps the runs in one status (e.g. `errored`, `planned`)."""

    status = django_filters.ChoiceFilter(choices=Status.choices)

    class Meta:
        model = Run
        fields = ["status"]
