"""Web pages of runs: an environment's runs, a run followed live, its actions.

The live parts are htmx fragments polled by the run page: the status panel
(`live`) until the run is finished, and each log (`log`), which appends only
what follows the offset it already shows. Actions are plain POST forms with
CSRF; they call the same functions as the API (`runs.machine`, `runs.queue`).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Level
from accounts.privileges import at_least
from environments.lookup import environment_for

from . import machine
from .api.serializers import RUN_RELATED
from .api.views import log_complete
from .logs import read_log
from .machine import TERMINAL
from .models import Phase, Run, Status
from .queue import NoConfigurationVersion, lock_holder, queue_run

PER_PAGE = 50
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


def _context(request, username, name, needed=Level.READ):
    environment, level = environment_for(request, username, name, needed)
    return environment, {
        "environment": environment,
        "level": level,
        "can_write": at_least(level, Level.WRITE),
        "can_admin": at_least(level, Level.ADMIN),
        "tab": "runs",
    }


def _run(environment, run_id):
    run = Run.objects.select_related(*RUN_RELATED).filter(pk=run_id).first()
    if run is None or run.environment_id != environment.pk:
        raise Http404
    return run


def run_url(run, view="detail"):
    environment = run.environment
    return reverse(
        f"runs:{view}",
        kwargs={"username": environment.namespace.name, "name": environment.name, "run_id": run.pk},
    )


def list_url(environment):
    return reverse(
        "runs:list", kwargs={"username": environment.namespace.name, "name": environment.name}
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


def _log_context(run, phase, offset=0):
    data, size = read_log(run, phase, offset)
    return {
        "run": run,
        "phase": phase,
        "text": data.decode(errors="replace"),
        "offset": size,
        "complete": log_complete(run, phase),
    }


@login_required
@require_GET
def run_list(request, username, name):
    environment, context = _context(request, username, name)
    runs = Run.objects.filter(environment=environment).select_related(*RUN_RELATED)
    context.update(
        {
            "page": Paginator(runs.order_by("-id"), PER_PAGE).get_page(request.GET.get("page")),
            "holder": lock_holder(environment),
        }
    )
    return render(request, "runs/list.html", context)


@login_required
@require_GET
def run_detail(request, username, name, run_id):
    environment, context = _context(request, username, name)
    run = _run(environment, run_id)
    context = _live_context(run, context)
    context["logs"] = [_log_context(run, phase) for phase in (Phase.PLAN, Phase.APPLY)]
    return render(request, "runs/detail.html", context)


@login_required
@require_GET
def run_live(request, username, name, run_id):
    environment, context = _context(request, username, name)
    run = _run(environment, run_id)
    return render(request, "runs/_live.html", _live_context(run, context))


@login_required
@require_GET
def run_log(request, username, name, run_id, phase):
    if phase not in Phase.values:
        raise Http404
    environment, _context_unused = _context(request, username, name)
    run = _run(environment, run_id)
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    context = _log_context(run, phase, offset)
    context["environment"] = environment
    return render(request, "runs/_log_poll.html", context)


@login_required
@require_POST
def queue(request, username, name):
    environment, _context_unused = _context(request, username, name, Level.WRITE)
    destroy = request.POST.get("destroy") == "true"
    if destroy and request.POST.get("confirm_name", "").strip() != environment.name:
        messages.error(
            request, f"Type the environment's name ({environment.name}) to queue a destroy plan."
        )
        return redirect(list_url(environment))
    try:
        run = queue_run(environment, request.user, destroy=destroy)
    except NoConfigurationVersion:
        messages.error(request, "Nothing to run yet: push a configuration first.")
        return redirect(list_url(environment))
    messages.success(request, f"{'Destroy plan' if destroy else 'Plan'} queued: run #{run.pk}.")
    return redirect(run_url(run))


def _action(action):
    @login_required
    @require_POST
    def view(request, username, name, run_id):
        environment, _context_unused = _context(request, username, name, Level.WRITE)
        run = _run(environment, run_id)
        try:
            getattr(machine, action)(run, request.user)
        except machine.TransitionRefused as refused:
            messages.error(request, str(refused))
        return redirect(run_url(run))

    view.__name__ = f"run_{action}"
    return view


run_confirm = _action("confirm")
run_discard = _action("discard")
run_cancel = _action("cancel")
