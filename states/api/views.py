"""The state part of /api/v1: Terraform's `atlas` backend and the history.

The body of a PUT is read by `states.intake`, never by a DRF parser, and a
state is answered with its stored bytes and stored MD5, never re-encoded.
"""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import SIGNED_IN, Need, request_token, rule
from accounts.models import Level
from accounts.privileges import READ_STATE, WRITE_STATE
from atlas.api.exceptions import Conflict, Unprocessable
from atlas.api.pagination import envelope_pagination
from atlas.bodies import streams_body
from environments.lookup import ENVIRONMENT, find_environment, saved
from states import selectors, services
from states.intake import content_md5, read_body
from states.models import Door
from states.parsing import InvalidState, parse_state
from states.responses import state_response
from states.rules import Outcome

from . import http
from . import serializers as s

MAX_RUN_ID = 128
WRITE_OR_CREATE = Need(Level.WRITE, creates=True)
# A state write (atlas PUT, http POST): 403/404 before a byte of the body is read.
STATE_WRITE = Need(Level.WRITE, creates=True, hidden_as_new=True)
RUN_ID = OpenApiParameter(
    "atlas_run_id", str, description="The run writing or reading (Terraform's atlas backend)"
)


def run_id(request):
    """The `?atlas_run_id=` Terraform's backend sends (empty outside a run)."""
    value = request.query_params.get("atlas_run_id", "")
    if len(value) > MAX_RUN_ID:
        raise ParseError({"atlas_run_id": [f"must be at most {MAX_RUN_ID} characters"]})
    return value


class StateListView(generics.ListAPIView):
    """`GET /terraform/state`: states the caller may read, newest change first."""

    access_rule = rule(GET=SIGNED_IN)  # the listing holds only what the caller may read
    serializer_class = s.StateListItemSerializer
    pagination_class = envelope_pagination("states")

    @extend_schema(
        operation_id="states_list",
        parameters=[OpenApiParameter("username", str, description="One namespace only")],
    )
    def list(self, request):
        states = selectors.listing(request.user, request.query_params)
        page = self.paginate_queryset(states)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class StateView(APIView):
    """`/terraform/state/:username/:name`: the head state, as Terraform reads and writes it.

    GET, PUT and DELETE are the atlas backend's; GET, POST, LOCK and UNLOCK
    the http backend's (`states.api.http`).
    """

    # Writes answer 404/403 before a byte of the body is read: an existing
    # environment is checked as itself (a run token may write its own one), a
    # missing one needs write on the namespace and is created by the write.
    # A read is one query that applies the level itself (`readable_head`).
    access_rule = rule(
        ENVIRONMENT,
        GET=Need(Level.READ, in_query=True),
        PUT=STATE_WRITE,
        POST=STATE_WRITE,
        DELETE=Level.ADMIN,
        LOCK=WRITE_OR_CREATE,
        UNLOCK=Level.WRITE,
    )
    parser_classes = []  # the body is streamed by states.intake, never parsed by DRF
    http_method_names = [*APIView.http_method_names, "lock", "unlock"]

    def run_token_use(self, request):
        """A run reads states (its own, `terraform_remote_state`) and writes its own,
        through the atlas door (PUT) or the http door (POST)."""
        action = {"GET": READ_STATE, "PUT": WRITE_STATE, "POST": WRITE_STATE}.get(request.method)
        environment = find_environment(self.kwargs["username"], self.kwargs["name"])
        return action, {"environment": environment}

    @extend_schema(
        operation_id="state_retrieve",
        parameters=[RUN_ID],
        responses={(200, "application/json"): OpenApiTypes.BINARY, 404: None},
    )
    def get(self, request, username, name):
        version = selectors.readable_head(request.user, username, name)
        if version is None:
            raise Http404
        return state_response(version)

    @extend_schema(
        operation_id="state_update",
        parameters=[RUN_ID],
        request={"application/json": OpenApiTypes.BINARY},
        responses={200: s.StateVersionSerializer},
    )
    @streams_body  # bounded by ATLAS_MAX_STATE_BYTES in states.intake
    def put(self, request, username, name):
        return write(request, self.environment, Door.ATLAS)

    @extend_schema(
        operation_id="state_http_write",
        parameters=[OpenApiParameter("ID", str, description="The lock ID the client holds")],
        request={"application/json": OpenApiTypes.BINARY},
        responses={200: s.StateVersionSerializer},
        description="Terraform's http backend: write the state (`?ID=` while holding the lock).",
    )
    @streams_body  # bounded by ATLAS_MAX_STATE_BYTES in states.intake
    def post(self, request, username, name):
        return write(request, self.environment, Door.HTTP, lock_id=http.lock_id_param(request))

    def lock(self, request, username, name):
        return http.lock(request, self.environment)

    def unlock(self, request, username, name):
        return http.unlock(request, self.environment, self.level)

    @extend_schema(operation_id="state_clear", request=None, responses={200: None, 404: None})
    def delete(self, request, username, name):
        if not services.clear_head(self.environment):
            raise Http404
        return Response(status=200)


class HttpLockView(APIView):
    """`.../lock`: the http backend's lock in GitLab's style (POST locks, DELETE unlocks)."""

    access_rule = rule(ENVIRONMENT, POST=WRITE_OR_CREATE, DELETE=Level.WRITE)
    parser_classes = []

    @extend_schema(
        operation_id="state_http_lock",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request, username, name):
        return http.lock(request, self.environment)

    @extend_schema(
        operation_id="state_http_unlock",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
    )
    def delete(self, request, username, name):
        return http.unlock(request, self.environment, self.level)


def write(request, environment, door, lock_id=None):
    """A state write through the atlas (PUT) or http (POST) door: one path, one rule.

    `environment` may be unsaved (the URL named a new one): it is created
    only once the body has been read and parsed."""
    run = run_id(request)
    md5 = content_md5(request)
    body = read_body(request)
    try:
        header = parse_state(body)
    except InvalidState as exc:
        raise ParseError(str(exc)) from None
    environment = saved(environment, request.user)
    try:
        result = services.write_state(
            environment,
            body,
            header=header,
            md5=md5,
            user=request.user,
            token=request_token(request),
            run_id=run,
            door=door,
            lock_id=lock_id,
        )
    except services.ChecksumMismatch as exc:
        raise ParseError({"Content-MD5": [str(exc)]}) from None
    if result.decision.outcome in (Outcome.CONFLICT, Outcome.LOCKED):
        raise Conflict(result.decision.reason)
    if result.decision.outcome is Outcome.SERIAL_USED:
        raise Unprocessable({"serial": [result.decision.reason]})
    # Exactly 200, also for an unchanged body: Terraform 0.11 fails on 201 and 204.
    return Response({"version": s.StateVersionSerializer(result.version).data}, status=200)


class VersionListView(generics.GenericAPIView):
    """`GET /terraform/state/:username/:name/versions`: the history, highest serial first."""

    access_rule = rule(ENVIRONMENT, GET=Level.READ)
    serializer_class = s.StateVersionSerializer
    pagination_class = envelope_pagination("versions")

    @extend_schema(operation_id="state_versions_list")
    def get(self, request, username, name):
        page = self.paginate_queryset(selectors.history(self.environment))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class VersionView(APIView):
    """`GET .../versions/:serial`: that version's exact bytes."""

    access_rule = rule(ENVIRONMENT, GET=Level.READ)

    @extend_schema(
        operation_id="state_version_download",
        responses={(200, "application/json"): OpenApiTypes.BINARY},
    )
    def get(self, request, username, name, serial):
        return state_response(selectors.version_or_404(self.environment, serial))


class RollbackView(APIView):
    """`POST .../versions/:serial/rollback`: that content as a new head (admin)."""

    access_rule = rule(ENVIRONMENT, POST=Level.ADMIN)

    @extend_schema(
        operation_id="state_version_rollback",
        request=None,
        responses={200: s.StateVersionSerializer},
    )
    def post(self, request, username, name, serial):
        environment = self.environment
        source = selectors.version_or_404(environment, serial)
        try:
            version = services.rollback(
                environment, source, user=request.user, token=request_token(request)
            )
        except services.RollbackBusy as exc:
            raise Conflict(str(exc)) from None
        return Response({"version": s.StateVersionSerializer(version).data}, status=200)
