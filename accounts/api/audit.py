"""`GET /api/v1/organizations/:org/audit`: the organization's audit trail (owners)."""

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import ParseError

from accounts import audit
from accounts.access import ORGANIZATION, rule
from accounts.models import Level
from atlas.api.pagination import envelope_pagination

from . import serializers as s


def parse_since(raw):
    """A datetime from `?since=` (ISO 8601 date or date-time; UTC when no zone given)."""
    from datetime import UTC, datetime, time

    value = None
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            value = datetime.combine(day, time.min) if day else None
    except ValueError:
        value = None
    if value is None:
        raise ParseError({"since": ["must be an ISO 8601 date or date-time"]})
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AuditViewSet(viewsets.GenericViewSet):
    """Events newest first, filtered by `?action=`, `?actor=`, `?since=` (owners)."""

    access_rule = rule(ORGANIZATION, GET=Level.ADMIN)

    serializer_class = s.EventSerializer
    pagination_class = envelope_pagination("events")

    @extend_schema(
        parameters=[
            OpenApiParameter("action", str, description='An action, or a family ("team")'),
            OpenApiParameter("actor", str, description="The acting user's name"),
            OpenApiParameter("since", str, description="ISO 8601 date or date-time"),
        ]
    )
    def list(self, request, name):
        organization = self.organization
        params = request.query_params
        since = parse_since(params["since"]) if params.get("since") else None
        events = audit.filtered(
            audit.events_for(organization.namespace),
            action=params.get("action", "").strip(),
            actor=params.get("actor", "").strip(),
            since=since,
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
