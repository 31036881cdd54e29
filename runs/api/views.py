"""The runs part of /api/v1: queue, list, read, act on runs, and tail logs."""

from django.http import Http404, HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Target, require_level, rule
from accounts.models import Level
from accounts.privileges import READ_RUN
from atlas.api.exceptions import Conflict, Unprocessable
from atlas.api.pagination import envelope_pagination
from atlas.flags import parse_flag
from environments.lookup import ENVIRONMENT
from runs import machine
from runs.filters import RunFilter
from runs.logs import read_log
from runs.models import Phase, Run, Source
from runs.queue import NoConfigurationVersion, queue_run

from .serializers import RUN_RELATED, RunSerializer

NO_VERSION = "This environment has no finished configuration version to run: push one first."
PAST = {"confirm": "confirmed", "discard": "discarded", "cancel": "canceled"}

RunEnvelope = inline_serializer(
    "RunEnvelope", {"success": serializers.BooleanField(), "run": RunSerializer()}
)


def _destroy_flag(data):
    if data is None or not hasattr(data, "get"):
        if data in (None, "", b""):
            return False
        raise ParseError("The body must be an object.")
    value = data.get("destroy", False)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    flag = parse_flag(value)
    if flag is None:
        raise Unprocessable({"destroy": ["must be true or false"]})
    return flag


def find_run(request, run_id, needed=Level.READ):
    """(run, level) if the caller may see the run (404 otherwise; 403 when too low)."""
    run = Run.objects.select_related(*RUN_RELATED).filter(pk=run_id).first()
    if run is None:
        raise Http404
    return run, require_level(request, run.environment.namespace, needed, run.environment)


# The run `run_id` of the URL, at a level on its environment.
RUN = Target(
    "run", lambda request, url_kwargs, need: find_run(request, url_kwargs["run_id"], need.level)
)


def _envelope(run):
    return {"success": True, "run": RunSerializer(run).data}


class QueueRunView(APIView):
    """Queue a plan (`{"destroy": true}` for a destroy plan) on the latest
    finished configuration version."""

    access_rule = rule(ENVIRONMENT, POST=Level.WRITE)

    @extend_schema(
        request=inline_serializer("QueueRun", {"destroy": serializers.BooleanField()}),
        responses={200: RunEnvelope},
    )
    def post(self, request, username, name):
        destroy = _destroy_flag(request.data)
        try:
            run = queue_run(self.environment, request.user, destroy=destroy, source=Source.API)
        except NoConfigurationVersion:
            raise NotFound(NO_VERSION) from None
        run = Run.objects.select_related(*RUN_RELATED).get(pk=run.pk)
        return Response(_envelope(run))


class EnvironmentRunsView(ListAPIView):
    """The environment's runs, newest first; `?status=` keeps one status."""

    access_rule = rule(ENVIRONMENT, GET=Level.READ)
    filter_backends = [DjangoFilterBackend]
    filterset_class = RunFilter
    queryset = Run.objects.none()  # for the schema: the runs are the environment's

    serializer_class = RunSerializer
    pagination_class = envelope_pagination("runs")

    def get_queryset(self):
        return (
            Run.objects.filter(environment=self.environment)
            .select_related(*RUN_RELATED)
            .order_by("-id")
        )


class RunView(APIView):
    access_rule = rule(RUN, GET=Level.READ)

    def run_token_use(self, request):
        """A run reads itself."""
        run = Run.objects.select_related("environment__namespace").filter(pk=self.kwargs["run_id"])
        return (READ_RUN if request.method == "GET" else None), {"run": run.first()}

    @extend_schema(responses={200: inline_serializer("RunRead", {"run": RunSerializer()})})
    def get(self, request, run_id):
        return Response({"run": RunSerializer(self.run).data})


class RunActionView(APIView):
    """confirm, discard or cancel; 409 naming the status when not allowed."""

    access_rule = rule(RUN, POST=Level.WRITE)
    action_name = None

    @extend_schema(request=None, responses={200: RunEnvelope})
    def post(self, request, run_id):
        run = self.run
        act = getattr(machine, self.action_name)
        try:
            act(run, request.user)
        except machine.TransitionRefused as refused:
            allowed = " or ".join(sorted(machine.ACTIONS[self.action_name]))
            done = PAST[self.action_name]
            raise Conflict(
                {"status": [f"is {refused.status}: only a run that is {allowed} can be {done}"]}
            ) from None
        run = Run.objects.select_related(*RUN_RELATED).get(pk=run.pk)
        return Response(_envelope(run))


class RunLogView(APIView):
    """A phase's log as text; `?offset=N` returns what follows byte N.

    `X-Atlas-Log-Size` is the log's size now (the next offset to ask for);
    `X-Atlas-Log-Complete: true` once nothing more will be written to it.
    """

    access_rule = rule(RUN, GET=Level.READ)
    phase = None

    @extend_schema(
        parameters=[OpenApiParameter("offset", OpenApiTypes.INT, required=False)],
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request, run_id):
        run = self.run
        raw = request.query_params.get("offset", "0")
        try:
            offset = int(raw)
        except ValueError:
            offset = -1
        if offset < 0:
            raise ParseError({"offset": [f"must be a byte offset (0 or more), got {raw!r}"]})
        data, size = read_log(run, self.phase, offset)
        response = HttpResponse(data, content_type="text/plain; charset=utf-8")
        response["X-Atlas-Log-Size"] = str(size)
        response["X-Atlas-Log-Complete"] = "true" if log_complete(run, self.phase) else "false"
        response["Cache-Control"] = "no-store"
        return response


def log_complete(run, phase):
    """True once nothing more will be written to the phase's log."""
    if phase == Phase.PLAN:
        return run.status not in ("pending", "planning")
    return run.status in machine.TERMINAL
