"""The Integrations tab of an environment (admins): its notification
configurations, a test delivery, and every delivery with its attempts.

Actions are POST forms with CSRF calling the same services as the API; the
deliveries table refreshes itself (htmx) while something is on its way.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts.access import guard, rule
from accounts.models import Level
from environments.lookup import ENVIRONMENT, page_context

from . import services
from .forms import NotificationForm
from .models import Delivery, Kind, NotificationConfiguration
from .payloads import configuration_path

DELIVERIES_PER_PAGE = 20
IN_FLIGHT = (Delivery.Status.PENDING, Delivery.Status.DELIVERING)


def _context(environment, level):
    return page_context(environment, level, tab="integrations")


def _list_url(environment):
    return reverse(
        "runs:integrations",
        kwargs={"username": environment.namespace.name, "name": environment.name},
    )


def _add_errors(form, error):
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


def _rows(environment):
    last = Delivery.objects.filter(configuration=OuterRef("pk")).order_by("-created_at")
    configurations = NotificationConfiguration.objects.filter(environment=environment).annotate(
        last_status=Subquery(last.values("status")[:1]),
        last_at=Subquery(last.values("created_at")[:1]),
    )
    return [
        {"configuration": c, "destination": _destination(c)} for c in configurations.order_by("id")
    ]


def _destination(configuration):
    if configuration.kind == Kind.EMAIL:
        return ", ".join(configuration.recipients)
    return services.masked_url(configuration)


@guard(rule(ENVIRONMENT, GET=Level.ADMIN))
def integrations(request, environment, level):
    return _render_list(request, _context(environment, level), NotificationForm())


def _render_list(request, context, form):
    environment = context["environment"]
    context.update({"rows": _rows(environment), "form": form})
    return render(request, "runs/integrations.html", context)


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
@never_cache
def add(request, environment, level):
    """Add a configuration; a webhook's secret is shown in this very
    response, once (never_cache: `Cache-Control: no-store`)."""
    context = _context(environment, level)
    form = NotificationForm(request.POST)
    if form.is_valid():
        try:
            configuration, secret = services.create_configuration(
                environment, request.user, form.data_for_service()
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"{configuration.get_kind_display()} notification added.")
            if secret:
                return _render_detail(request, environment, context, configuration, secret=secret)
            return redirect(configuration_path(configuration))
    return _render_list(request, context, form)


def _deliveries(configuration, page_number=None):
    deliveries = (
        Delivery.objects.filter(configuration=configuration)
        .select_related("run")
        .prefetch_related("attempts")
        .order_by("-created_at")
    )
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(page_number)
    for delivery in page.object_list:
        attempts = list(delivery.attempts.all())
        delivery.last_attempt = attempts[-1] if attempts else None
    return {
        "page": page,
        "in_flight": any(d.status in IN_FLIGHT for d in page.object_list),
    }


def _render_detail(request, environment, context, configuration, form=None, secret=None):
    masked = _destination(configuration)
    context.update(
        {
            "configuration": configuration,
            "destination": masked,
            "secret": secret,
            "form": form
            or NotificationForm(
                configuration=configuration,
                masked_url=masked,
                initial={
                    "events": configuration.events,
                    "enabled": configuration.enabled,
                    "recipients": ", ".join(configuration.recipients),
                },
            ),
            **_deliveries(configuration, request.GET.get("page")),
        }
    )
    return render(request, "runs/integration.html", context)


@guard(rule(ENVIRONMENT, GET=Level.ADMIN))
def detail(request, environment, level, pk):
    context = _context(environment, level)
    return _render_detail(
        request, environment, context, services.find_configuration(environment, pk)
    )


@guard(rule(ENVIRONMENT, GET=Level.ADMIN))
def deliveries(request, environment, level, pk):
    """The deliveries table alone, for the page to refresh it."""
    context = _context(environment, level)
    configuration = services.find_configuration(environment, pk)
    context.update(
        {"configuration": configuration, **_deliveries(configuration, request.GET.get("page"))}
    )
    return render(request, "runs/_deliveries.html", context)


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def edit(request, environment, level, pk):
    context = _context(environment, level)
    configuration = services.find_configuration(environment, pk)
    form = NotificationForm(
        request.POST, configuration=configuration, masked_url=_destination(configuration)
    )
    if form.is_valid():
        try:
            services.update_configuration(configuration, form.data_for_service())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Notification saved.")
            return redirect(configuration_path(configuration))
    return _render_detail(request, environment, context, configuration, form=form)


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def test(request, environment, level, pk):
    configuration = services.find_configuration(environment, pk)
    services.send_test(configuration)
    messages.success(request, "Test notification queued: it shows below once it is sent.")
    return redirect(configuration_path(configuration))


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def delete(request, environment, level, pk):
    configuration = services.find_configuration(environment, pk)
    services.delete_configuration(configuration)
    messages.success(request, f"{configuration.get_kind_display()} notification deleted.")
    return redirect(_list_url(environment))
