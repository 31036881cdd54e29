"""An organization's audit trail, for its owners."""

from datetime import datetime, time
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from .. import audit
from ..access import ORGANIZATION, guard, rule
from ..forms import AuditFilterForm
from ..models import Level

PER_PAGE = 50
ACTION_FAMILIES = [
    "environment",
    "grant",
    "invitation",
    "member",
    "organization",
    "run",
    "state",
    "team",
    "token",
    "user",
    "variable",
]


def _value(value):
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    return str(value)


def describe_change(before, after):
    """`level: read → write; reason: maintenance` for people to read."""
    before, after = before or {}, after or {}
    parts = []
    for key in dict.fromkeys([*before, *after]):
        if key in before and key in after:
            parts.append(f"{key}: {_value(before[key])} → {_value(after[key])}")
        elif key in before:
            parts.append(f"{key} was {_value(before[key])}")
        else:
            parts.append(f"{key}: {_value(after[key])}")
    return "; ".join(parts)


@guard(rule(ORGANIZATION, GET=Level.ADMIN))
def audit_page(request, organization, level):
    form = AuditFilterForm(request.GET or None)
    filters = {}
    if form.is_bound and form.is_valid():
        since = form.cleaned_data["since"]
        filters = {
            "action": form.cleaned_data["action"].strip(),
            "actor": form.cleaned_data["actor"].strip(),
            "since": datetime.combine(since, time.min, tzinfo=timezone.get_current_timezone())
            if since
            else None,
        }
    events = audit.filtered(audit.events_for(organization.namespace), **filters)
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    for event in page.object_list:
        event.change = describe_change(event.before, event.after)
    query = {k: v for k, v in request.GET.items() if k in ("action", "actor", "since") and v}
    context = {
        "organization": organization,
        "level": level,
        "is_admin": True,
        "form": form,
        "page": page,
        "query": urlencode(query) + "&" if query else "",
        "families": ACTION_FAMILIES,
        "tab": "audit",
    }
    return render(request, "accounts/audit.html", context)
