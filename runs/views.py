"""Web pages of runs: an environment's runs, a run followed live, its actions.

The live parts are htmx fragments: the run's status panel (`live`) polls
itself until the run is finished, and when the status it shows changes the
answer also refreshes, out of band, the environment's header (its lock) and
the logs that had stopped growing; each log (`log`) appends what follows
the offset it shows, only while it can grow. The page holds only the end of
a log; the whole of it is `log-raw`. Actions are plain POST forms with
CSRF; they call the same functions as the API (`runs.machine`, `runs.queue`).
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.access import SIGNED_IN, guard, rule
from accounts.models import Level
from atlas.api.jsonapi import id_number
from environments.lookup import ENVIRONMENT, page_context

from . import machine, selectors
from .filters import RunFilter
from .logs import log_may_grow, log_size, read_chunks, read_log, read_tail
from .machine import TERMINAL
from .models import Phase, Run, Source, Status
from .queue import NoConfigurationVersion, lock_holder, queue_run
from .summaries import result_line

PER_PAGE = 50
# The end of each log that the run page holds; the rest is a link away.
TAIL_BYTES = 32 * 1024
TIMELINE = [
    Status.PENDING,
    Status.PLANNING,
    Status.PLANNED,
    Status.CONFIRMED,
    Status.APPLYING,
    Status.APPLIED,
    Status.PLANNED_AND_FINISHED,
    Status.DISCARDED,
    Status.CANCELED,
    Status.ERRORED,
]
DONE = {"confirm": "Run #{} confirmed: the apply is queued.", "discard": "Run #{} discarded."}


def _context(environment, level):
    return page_context(environment, level, tab="runs")


def _run(environment, run_id):
    run = Run.objects.select_related(*selectors.RELATED).filter(pk=run_id).first()
    if run is None or run.environment_id != environment.pk:
        raise Http404
    return run


def run_url(run, view="detail"):
    environment = run.environment
    return reverse(
        f"runs:{view}",
        kwargs={"username": environment.namespace.name, "name": environment.name, "run_id": run.pk},
    )


def list_url(environment, view="list"):
    return reverse(
        f"runs:{view}", kwargs={"username": environment.namespace.name, "name": environment.name}
    )


def timeline(run):
    reached = run.status_timestamps()
    return [{"status": status, "at": reached[status]} for status in TIMELINE if status in reached]


def _live_context(run, context):
    context.update(
        {
            "run": run,
            "finished": run.status in TERMINAL,
            "timeline": timeline(run),
            "can_confirm": context["can_write"] and run.status in machine.ACTIONS["confirm"],
            "can_discard": context["can_write"] and run.status in machine.ACTIONS["discard"],
            "can_cancel": context["can_write"]
            and run.status in machine.ACTIONS["cancel"]
            and run.cancel_requested_at is None,
        }
    )
    return context


def _log_box(run, phase):
    """One log as the run page shows it: its tail and whether it still grows."""
    text, start, size = read_tail(run, phase, TAIL_BYTES)
    return {
        "phase": phase,
        "title": "Plan log" if phase == Phase.PLAN else "Apply log",
        "text": text,
        "summary": result_line(text),
        "start": start,
        "offset": size,
        "size": size,
        "growing": log_may_grow(run, phase),
    }


def _log_boxes(run):
    """The plan's log, and the apply's once the run was confirmed (a run that
    never applies has no apply log to show)."""
    phases = (
        [Phase.PLAN, Phase.APPLY] if run.applies or log_size(run, Phase.APPLY) else [Phase.PLAN]
    )
    return [_log_box(run, phase) for phase in phases]


def environment_actions(environment, context):
    """What the header's run actions need: writers, and something pushed."""
    context["can_queue"] = context["can_write"] and selectors.can_queue(environment)
    return context


@guard(rule(ENVIRONMENT, GET=Level.READ))
def run_list(request, environment, level):
    context = _context(environment, level)
    found = RunFilter(request.GET, queryset=Run.objects.filter(environment=environment))
    runs = found.qs.select_related(*selectors.RELATED)
    page = Paginator(runs.order_by("-id"), PER_PAGE).get_page(request.GET.get("page"))
    status = found.form.cleaned_data.get("status") if found.is_valid() else ""
    context.update(
        {
            "page": page,
            "status": status,
            "statuses": Status.choices,
            "status_query": f"status={status}&" if status else "",
            "holder": lock_holder(environment),
            "runs_active": selectors.any_active(page.object_list),
        }
    )
    return render(request, "runs/list.html", environment_actions(environment, context))


def _state_versions(run):
    """The serials of the state versions the run wrote (with its own tokens)."""
    from states.models import StateVersion

    return list(
        StateVersion.objects.filter(environment_id=run.environment_id, token__scope_run_id=run.pk)
        .order_by("serial")
        .values_list("serial", flat=True)
    )


@guard(rule(ENVIRONMENT, GET=Level.READ))
def run_detail(request, environment, level, run_id):
    context = _context(environment, level)
    run = _run(environment, run_id)
    context = _live_context(run, context)
    context["logs"] = _log_boxes(run)
    if run.applies:
        context["state_serials"] = _state_versions(run)
    return render(request, "runs/detail.html", context)


@guard(rule(ENVIRONMENT, GET=Level.READ))
def tfe_run_link(request, environment, level, tfe_run_id):
    """`/app/<org>/<workspace>/runs/run-<id>`, the link the TFE clients print:
    the run's page."""
    number = id_number(tfe_run_id, "run-")
    if number is None:
        raise Http404
    run = _run(environment, number)
    return redirect("runs:detail", username=environment.namespace.name, name=environment.name,
                    run_id=run.pk)  # fmt: skip


@guard(rule(ENVIRONMENT, GET=Level.READ))
def run_live(request, environment, level, run_id):
    """The status panel; with `?shown=<status>` (what the page shows now) and
    a different status, also the header and the logs that stopped growing."""
    context = _context(environment, level)
    run = _run(environment, run_id)
    context = _live_context(run, context)
    if run.applies:
        context["state_serials"] = _state_versions(run)
    shown = request.GET.get("shown", run.status)
    if shown != run.status:
        # The environment was read before the run: read its lock again, or a
        # run that ended in between shows its final status under a header
        # still locked by it (and a finished panel polls no more).
        environment.refresh_from_db()
        was = Run(status=shown)
        context["changed"] = True
        context["logs"] = [box for box in _log_boxes(run) if not log_may_grow(was, box["phase"])]
    return render(request, "runs/_live.html", context)


@guard(rule(ENVIRONMENT, GET=Level.READ))
def run_log(request, environment, level, run_id, phase):
    if phase not in Phase.values:
        raise Http404
    run = _run(environment, run_id)
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    data, size = read_log(run, phase, offset)
    context = {
        "environment": environment,
        "run": run,
        "phase": phase,
        "text": data.decode(errors="replace"),
        "offset": size,
        "growing": log_may_grow(run, phase),
    }
    return render(request, "runs/_log_poll.html", context)


@guard(rule(ENVIRONMENT, GET=Level.READ))
def run_log_raw(request, environment, level, run_id, phase):
    """The whole log as text: shown in the browser, or downloaded (`?download`)."""
    if phase not in Phase.values:
        raise Http404
    run = _run(environment, run_id)
    response = StreamingHttpResponse(
        read_chunks(run, phase), content_type="text/plain; charset=utf-8"
    )
    if "download" in request.GET:
        filename = f"{environment.namespace.name}-{environment.name}-run-{run.pk}-{phase}.log"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-cache"
    return response


@guard(rule(ENVIRONMENT, GET=Level.READ))
def latest(request, environment, level):
    """The environment's latest-run card (the overview polls it)."""
    context = _context(environment, level)
    context.update(
        {
            "latest_run": selectors.latest_run(environment),
            "oob": True,
            "holds_lock": environment.locked and environment.locked_by_id == request.user.pk,
        }
    )
    return render(request, "runs/_latest_run.html", environment_actions(environment, context))


@guard(rule(GET=SIGNED_IN))
def dashboard_runs(request):
    """The dashboard's runs: what needs the caller, and recent runs (polled)."""
    return render(request, "runs/_dashboard_runs.html", selectors.dashboard(request.user))


@guard(rule(ENVIRONMENT, POST=Level.WRITE))
def queue(request, environment, level):
    try:
        run = queue_run(environment, request.user, source=Source.UI)
    except NoConfigurationVersion:
        messages.error(request, "Nothing to run yet: push a configuration first.")
        return redirect(list_url(environment))
    messages.success(request, f"Plan queued: run #{run.pk}.")
    return redirect(run_url(run))


@guard(rule(ENVIRONMENT, GET=Level.WRITE, POST=Level.WRITE))
def queue_destroy(request, environment, level):
    """A destroy plan, once the environment's full name is typed (as for deleting it)."""
    context = _context(environment, level)
    typed, error = "", ""
    if request.method == "POST":
        typed = request.POST.get("confirm_name", "").strip()
        if typed == environment.slug:
            try:
                run = queue_run(environment, request.user, destroy=True, source=Source.UI)
            except NoConfigurationVersion:
                messages.error(request, "Nothing to run yet: push a configuration first.")
                return redirect(list_url(environment))
            messages.success(request, f"Destroy plan queued: run #{run.pk}.")
            return redirect(run_url(run))
        error = f"Type {environment.slug} exactly to queue a destroy plan."
    context.update({"typed": typed, "error": error})
    return render(
        request,
        "runs/destroy.html",
        environment_actions(environment, context),
        status=400 if error else 200,
    )


def _next_url(request, run):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return run_url(run)


def _action(action):
    @guard(rule(ENVIRONMENT, POST=Level.WRITE))
    def view(request, environment, level, run_id):
        run = _run(environment, run_id)
        try:
            getattr(machine, action)(run, request.user)
        except machine.TransitionRefused as refused:
            messages.error(request, str(refused))
        else:
            if action == "cancel":
                run.refresh_from_db(fields=["status"])
                done = (
                    f"Run #{run.pk} canceled."
                    if run.status == Status.CANCELED
                    else f"Cancel requested: run #{run.pk} stops shortly."
                )
            else:
                done = DONE[action].format(run.pk)
            messages.success(request, done)
        return redirect(_next_url(request, run))

    view.__name__ = f"run_{action}"
    return view


run_confirm = _action("confirm")
run_discard = _action("discard")
run_cancel = _action("cancel")
