"""The environments part of /api/v1: environments, their variables and lock."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from accounts.access import SIGNED_IN, namespace_for, rule
from accounts.models import Level
from accounts.privileges import readable_environments_q
from atlas.api.envelopes import unwrap, validated
from atlas.api.exceptions import Conflict, Unprocessable
from atlas.api.pagination import envelope_pagination
from atlas.flags import parse_flag

from .. import services
from ..filters import EnvironmentFilter
from ..lookup import ENVIRONMENT
from ..models import Environment
from ..selectors import with_latest_version
from . import serializers as s

EnvironmentBody = inline_serializer("EnvironmentBody", {"environment": s.EnvironmentSerializer()})


def _environment_body(environment):
    fresh = with_latest_version(Environment.objects.filter(pk=environment.pk)).get()
    return {"environment": s.EnvironmentSerializer(fresh).data}


class EnvironmentListViewSet(viewsets.GenericViewSet):
    """Environments the caller can see; create one in a namespace they may write."""

    # The namespace of a new environment is named in the body: `create`
    # resolves it itself, at write.
    access_rule = rule(GET=SIGNED_IN, POST=SIGNED_IN)
    serializer_class = s.EnvironmentSerializer
    pagination_class = envelope_pagination("environments")
    filter_backends = [DjangoFilterBackend]
    filterset_class = EnvironmentFilter

    def get_queryset(self):
        queryset = Environment.objects.filter(readable_environments_q(self.request.user))
        return with_latest_version(queryset).order_by("namespace__name", "name")

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=inline_serializer(
            "EnvironmentCreateRequest", {"environment": s.EnvironmentCreateSerializer()}
        ),
        responses={201: EnvironmentBody},
    )
    def create(self, request):
        data = validated(s.EnvironmentCreateSerializer(data=unwrap(request.data, "environment")))
        namespace, _level = namespace_for(request, data["username"], Level.WRITE)
        environment = services.new_environment(
            namespace, data["name"], request.user, data["auto_apply"]
        )
        return Response(_environment_body(environment), status=status.HTTP_201_CREATED)


class EnvironmentViewSet(viewsets.GenericViewSet):
    """One environment: read it, change it, delete it."""

    access_rule = rule(ENVIRONMENT, GET=Level.READ, PATCH=Level.ADMIN, DELETE=Level.ADMIN)
    serializer_class = s.EnvironmentSerializer

    @extend_schema(responses=EnvironmentBody)
    def retrieve(self, request, username, name):
        return Response(_environment_body(self.environment))

    @extend_schema(
        request=inline_serializer(
            "EnvironmentUpdateRequest", {"environment": s.EnvironmentUpdateSerializer()}
        ),
        responses=EnvironmentBody,
    )
    def partial_update(self, request, username, name):
        environment = self.environment
        data = validated(s.EnvironmentUpdateSerializer(data=unwrap(request.data, "environment")))
        if "auto_apply" in data:
            services.set_auto_apply(environment, data["auto_apply"])
        if "execution_mode" in data:
            services.set_execution_mode(environment, data["execution_mode"], request.user)
        return Response(_environment_body(environment))

    def destroy(self, request, username, name):
        services.delete_environment(self.environment, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VariablesViewSet(viewsets.ViewSet):
    """`PUT .../variables`: values are never echoed, the answer is an empty 200."""

    access_rule = rule(ENVIRONMENT, PUT=Level.WRITE)

    @extend_schema(
        request=inline_serializer(
            "VariablesUpdateRequest",
            {"variables": serializers.DictField(child=serializers.CharField())},
        ),
        responses={200: None},
    )
    def update(self, request, username, name):
        variables = unwrap(request.data, "variables")
        services.update_terraform_variables(self.environment, variables, request.user)
        return Response(status=status.HTTP_200_OK)


def _body_object(request):
    data = request.data if request.data is not None else {}
    if not isinstance(data, dict):
        raise ParseError("The body must be an object.")
    return data


LockBody = inline_serializer("EnvironmentLock", {"reason": serializers.CharField()})
UnlockBody = inline_serializer(
    "EnvironmentUnlock",
    {"force": serializers.BooleanField(required=False), "reason": serializers.CharField()},
)


class LockViewSet(viewsets.ViewSet):
    """Locking by hand (admin): the lock shows its holder and reason."""

    access_rule = rule(ENVIRONMENT, POST=Level.ADMIN)

    @extend_schema(request=LockBody, responses=EnvironmentBody)
    def lock(self, request, username, name):
        reason = _body_object(request).get("reason")
        try:
            environment = services.lock_environment(self.environment, request.user, reason)
        except services.LockError as exc:
            raise Conflict(str(exc)) from None
        return Response(_environment_body(environment))

    @extend_schema(request=UnlockBody, responses=EnvironmentBody)
    def unlock(self, request, username, name):
        body = _body_object(request)
        force = parse_flag(body.get("force", False))
        if force is None:
            raise Unprocessable({"force": ["must be true or false"]})
        try:
            environment = services.unlock_environment(
                self.environment, request.user, force=force, reason=body.get("reason")
            )
        except services.LockError as exc:
            raise Conflict(str(exc)) from None
        return Response(_environment_body(environment))
