"""TFE v2 runs: `terraform plan` and `apply` of a `cloud {}` or `backend
"remote"` configuration, executed on this server's workers.

These are the same runs as everywhere else: `runs.queue.queue_run` queues
them (one queue per environment; a speculative plan never takes the lock),
the executor runs them in the sandbox, and `runs.machine` confirms,
discards and cancels them with the same rules and 409s as /api/v1. The
logs are the runs' stored log chunks, served at capability URLs
(`tfe_shapes.log_url`) with the framing the clients expect.
"""

from django.http import Http404, HttpResponse
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from accounts.access import (
    ANYONE,
    SIGNED_IN,
    VISIBLE,
    Target,
    declares,
    namespace_target,
    require_level,
    rule,
)
from accounts.models import Level
from atlas.api.exceptions import Conflict, Unprocessable
from atlas.api.jsonapi import V2View, body_data, id_number, paginate, resource
from environments.api.v2.configuration_versions import find_version
from environments.lookup import WORKSPACE, workspace_for
from environments.models import ConfigurationVersion, ExecutionMode
from environments.selectors import latest_runnable_version

from .. import machine
from .. import variables as run_variables
from ..logs import read_log
from ..models import Phase, Run, Source, Status
from ..queue import queue_run
from .tfe_shapes import (
    apply_resource,
    phase_finished,
    plan_resource,
    read_log_token,
    run_resource,
)

RELATED = ("environment__namespace", "configuration_version")
STX, ETX = b"\x02", b"\x03"
MAX_LOG_LIMIT = 1024 * 1024
PAST = {"confirm": "confirmed", "discard": "discarded", "cancel": "canceled"}


def _find(request, identifier, prefix, needed=Level.READ):
    """(run, level) of `<prefix><id>` if the caller may see it (404 otherwise)."""
    number = id_number(identifier, prefix)
    if number is None:
        raise Http404
    run = Run.objects.select_related(*RELATED).filter(pk=number).first()
    if run is None:
        raise Http404
    level = require_level(request, run.environment.namespace, needed, run.environment)
    return run, level


def _target(url_kwarg, prefix):
    def resolve(request, url_kwargs, need):
        return _find(request, url_kwargs[url_kwarg], prefix, need.level)

    return Target("run", resolve, (url_kwarg,))


# The run a TFE id of the URL names: `run-<id>`, its plan `plan-<id>`, its apply `apply-<id>`.
TFE_RUN = _target("run_id", "run-")
PLAN = _target("plan_id", "plan-")
APPLY = _target("apply_id", "apply-")
ORGANIZATION = namespace_target("organization")


def _related_id(data, name, prefix):
    related = (data.get("relationships") or {}).get(name)
    target = related.get("data") if isinstance(related, dict) else None
    if target is None:
        return None
    identifier = target.get("id") if isinstance(target, dict) else None
    if not isinstance(identifier, str) or not identifier.startswith(prefix):
        raise Unprocessable({name: [f"must name a {prefix}... id"]})
    return identifier


def _bool(attributes, name, default=False):
    value = attributes.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Unprocessable({name: ["must be true or false"]})
    return value


def _refuse_unsupported(attributes):
    for name in ("target-addrs", "replace-addrs"):
        if attributes.get(name):
            raise Unprocessable({name: ["is not supported by this server"]})
    if attributes.get("refresh-only") is True:
        raise Unprocessable({"refresh-only": ["is not supported by this server"]})


def _message(attributes):
    message = attributes.get("message") or ""
    if not isinstance(message, str):
        raise Unprocessable({"message": ["must be a string"]})
    return message


class RunsView(V2View):
    """`POST /runs`: queue a run of a workspace (write level). The workspace
    is named in the body, so the handler resolves it (`workspace_for`, the
    same check as the WORKSPACE target). A run token cannot: this view
    names nothing a run token may do."""

    access_rule = rule(POST=SIGNED_IN)

    def post(self, request):
        data, attributes = body_data(request, "runs")
        workspace = _related_id(data, "workspace", "ws-")
        if workspace is None:
            raise Unprocessable({"workspace": ["is required"]})
        environment, level = workspace_for(request, workspace, Level.WRITE)
        if environment.execution_mode != ExecutionMode.REMOTE:
            raise Conflict(
                "This workspace executes locally: runs start where Terraform is started. "
                "Set its execution mode to remote to run on this server."
            )
        _refuse_unsupported(attributes)
        version = _version(request, data, environment)
        try:
            sent = run_variables.parse(attributes.get("variables"))
        except run_variables.BadRunVariables as exc:
            raise Unprocessable({"variables": [str(exc)]}) from None
        auto_apply = attributes.get("auto-apply")
        if auto_apply is not None and not isinstance(auto_apply, bool):
            raise Unprocessable({"auto-apply": ["must be true or false"]})
        run = queue_run(
            environment,
            request.user,
            version=version,
            destroy=_bool(attributes, "is-destroy"),
            source=Source.TFE_CLI,
            speculative=version.speculative or _bool(attributes, "plan-only"),
            variables=sent,
            message=_message(attributes),
            auto_apply=auto_apply,
        )
        run = Run.objects.select_related(*RELATED).get(pk=run.pk)
        return Response({"data": run_resource(run, level)}, status=201)


def _version(request, data, environment):
    identifier = _related_id(data, "configuration-version", "cv-")
    if identifier is None:
        version = latest_runnable_version(environment)
        if version is None:
            raise Unprocessable({"configuration-version": ["the workspace has none uploaded"]})
        return version
    try:
        version, _level = find_version(request, identifier)
    except Http404:
        raise Unprocessable({"configuration-version": ["does not exist"]}) from None
    if version.environment_id != environment.pk:
        raise Unprocessable({"configuration-version": ["belongs to another workspace"]})
    if version.current_status != ConfigurationVersion.Status.FINISHED:
        raise Unprocessable({"configuration-version": ["has no uploaded archive"]})
    return version


class RunView(V2View):
    access_rule = rule(TFE_RUN, GET=Level.READ)

    def get(self, request, run_id):
        data = run_resource(self.run, self.level)
        # After the plan's log's end, a read of the run is the CLI's last look
        # at the plan phase: the apply may start (this answer already built).
        machine.release_followed_apply(self.run)
        return Response({"data": data})


class RunEventsView(V2View):
    """The run's events: none are kept apart from its log."""

    access_rule = rule(TFE_RUN, GET=Level.READ)

    def get(self, request, run_id):
        return Response({"data": []})


class RunActionView(V2View):
    """`apply` (confirm), `discard`, `cancel`: 202, or 409 naming the status."""

    action_name = None
    access_rule = rule(TFE_RUN, POST=Level.WRITE)

    def post(self, request, run_id):
        run = self.run
        act = getattr(machine, self.action_name)
        if self.action_name in ("confirm", "discard") and run.speculative:
            raise Conflict("A speculative plan is never applied.")
        try:
            act(run, request.user)
        except machine.TransitionRefused as refused:
            allowed = " or ".join(sorted(machine.ACTIONS[self.action_name]))
            raise Conflict(
                f"The run is {refused.status}: only a run that is {allowed} can be "
                f"{PAST[self.action_name]}."
            ) from None
        return Response(status=202)


class WorkspaceRunsView(V2View):
    """The workspace's runs, newest first (the CLI counts its queue position here)."""

    access_rule = rule(WORKSPACE, GET=Level.READ)

    def get(self, request, workspace_id):
        environment, level = self.environment, self.level
        rows = Run.objects.filter(environment=environment).select_related(*RELATED)
        page, meta = paginate(request, rows.order_by("-id"))
        for run in page:
            run.environment = environment
        return Response({"data": [run_resource(run, level) for run in page], "meta": meta})


class PlanView(V2View):
    access_rule = rule(PLAN, GET=Level.READ)

    def get(self, request, plan_id):
        return Response({"data": plan_resource(request, self.run)})


class ApplyView(V2View):
    access_rule = rule(APPLY, GET=Level.READ)

    def get(self, request, apply_id):
        data = apply_resource(request, self.run)
        # The CLI follows the apply: it is past its look at the plan phase.
        machine.release_followed_apply(self.run)
        return Response({"data": data})


def _waiting(namespace):
    return Run.objects.filter(
        environment__namespace=namespace, status__in=(Status.PENDING, Status.CONFIRMED)
    )


class RunQueueView(V2View):
    """The organization's runs waiting for a worker, each at position 0:
    workers take whatever is ready, so there is no queue across workspaces
    to wait in."""

    access_rule = rule(ORGANIZATION, GET=Level.READ)

    def get(self, request, organization):
        namespace = self.namespace
        page, meta = paginate(request, _waiting(namespace).order_by("id"))
        data = [
            resource("runs", f"run-{run.pk}", {"status": run.status, "position-in-queue": 0})
            for run in page
        ]
        return Response({"data": data, "meta": meta})


class CapacityView(V2View):
    access_rule = rule(ORGANIZATION, GET=VISIBLE)

    def get(self, request, organization):
        namespace = self.namespace
        pending = _waiting(namespace).count()
        running = Run.objects.filter(
            environment__namespace=namespace, status__in=(Status.PLANNING, Status.APPLYING)
        ).count()
        return Response(
            {
                "data": resource(
                    "organization-capacity",
                    namespace.name,
                    {"pending": pending, "running": running},
                )
            }
        )


def _apply_preamble(run):
    """Both clients drop the first three lines of an apply log (where TFE
    puts Terraform's version banner)."""
    return f"Terraform v{run.terraform_version or 'unknown'}\non linux_amd64\n\n".encode()


def _int(value, default):
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ParseError("offset and limit must be integers") from None
    if number < 0:
        raise ParseError("offset and limit must not be negative")
    return number


@declares(rule(GET=ANYONE))  # the signed token in the path is the credential
def log(request, token):
    """`GET <log-read-url>?offset=M&limit=N`: bytes M to M+N of STX, the
    phase's log (an apply's after its preamble) and, once the phase is
    over, ETX. No new bytes yet: 200 with an empty body. The token in the
    path is the credential (the client sends none)."""
    if request.method != "GET":
        return HttpResponse(status=405)
    found = read_log_token(token)
    if found is None:
        raise Http404
    run = Run.objects.filter(pk=found[0]).first()
    if run is None:
        raise Http404
    phase = found[1]
    try:
        offset = _int(request.GET.get("offset"), 0)
        limit = min(_int(request.GET.get("limit"), MAX_LOG_LIMIT), MAX_LOG_LIMIT)
    except ParseError:
        return HttpResponse(status=400)
    finished = phase_finished(run, phase)  # before the log: a finished log is whole
    prefix = STX + (_apply_preamble(run) if phase == Phase.APPLY else b"")
    data, size = read_log(run, phase, max(0, offset - len(prefix)))
    body = prefix[offset:] + data
    if finished and offset <= len(prefix) + size:
        body += ETX
        if phase == Phase.PLAN and len(body) <= limit:
            machine.plan_log_read(run)  # the reader has the whole plan log
    if phase == Phase.APPLY:
        machine.release_followed_apply(run)  # the CLI follows the apply
    return HttpResponse(body[:limit], content_type="text/plain")
