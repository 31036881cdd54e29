"""The environments part of /api/v1: environments, their variables and lock."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from accounts.access import namespace_for
from accounts.models import Level
from accounts.privileges import readable_environments_q
from atlas.api.envelopes import unwrap, validated
from atlas.api.exceptions import Conflict, Unprocessable
from atlas.api.pagination import envelope_pagination

from .. import services
from ..lookup import environment_for
from ..models import Environment
from . import serializers as s

EnvironmentBody = inline_serializer("EnvironmentBody", {"environment": s.EnvironmentSerializer()})


def _environment_body(environment):
    fresh = s.with_latest_version(Environment.objects.filter(pk=environment.pk)).get()
    return {"environment": s.EnvironmentSerializer(fresh).data}


class EnvironmentViewSet(viewsets.GenericViewSet):
    """Environments the caller can see; create, read, change and delete them."""

    serializer_class = s.EnvironmentSerializer
    pagination_class = envelope_pagination("environments")

    def get_queryset(self):
        queryset = Environment.objects.filter(readable_environments_q(self.request.user))
        username = self.request.query_params.get("username")
        if username:
            queryset = queryset.filter(namespace__name__iexact=username)
        return s.with_latest_version(queryset).order_by("namespace__name", "name")

    @extend_schema(parameters=[OpenApiParameter("username", str, description="Namespace")])
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
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

    @extend_schema(responses=EnvironmentBody)
    def retrieve(self, request, username, name):
        environment, _level = environment_for(request, username, name, Level.READ)
        return Response(_environment_body(environment))

    @extend_schema(
        request=inline_serializer(
            "EnvironmentUpdateRequest", {"environment": s.EnvironmentUpdateSerializer()}
        ),
        responses=EnvironmentBody,
    )
    def partial_update(self, request, username, name):
        environment, _level = environment_for(request, username, name, Level.ADMIN)
        data = validated(s.EnvironmentUpdateSerializer(data=unwrap(request.data, "environment")))
        if "auto_apply" in data:
            services.set_auto_apply(environment, data["auto_apply"])
        return Response(_environment_body(environment))

    def destroy(self, request, username, name):
        environment, _level = environment_for(request, username, name, Level.ADMIN)
        services.delete_environment(environment, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VariablesViewSet(viewsets.ViewSet):
    """`PUT .../variables`: values are never echoed, the answer is an empty 200."""

    @extend_schema(
        request=inline_serializer(
            "VariablesUpdateRequest",
            {"variables": serializers.DictField(child=serializers.CharField())},
        ),
        responses={200: None},
    )
    def update(self, request, username, name):
        environment, _level = environment_for(request, username, name, Level.WRITE)
        variables = unwrap(request.data, "variables")
        services.update_terraform_variables(environment, variables, request.user)
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

    @extend_schema(request=LockBody, responses=EnvironmentBody)
    def lock(self, request, username, name):
        environment, _level = environment_for(request, username, name, Level.ADMIN)
        reason = _body_object(request).get("reason")
        try:
            environment = services.lock_environment(environment, request.user, reason)
        except services.LockError as exc:
            raise Conflict(str(exc)) from None
        return Response(_environment_body(environment))

    @extend_schema(request=UnlockBody, responses=EnvironmentBody)
    def unlock(self, request, username, name):
        environment, _level = environment_for(request, username, name, Level.ADMIN)
        body = _body_object(request)
        force = body.get("force", False)
        if force not in (True, False, "true", "false", "1", "0"):
            raise Unprocessable({"force": ["must be true or false"]})
        force = force in (True, "true", "1")
        try:
            environment = services.unlock_environment(
                environment, request.user, force=force, reason=body.get("reason")
            )
        except services.LockError as exc:
            raise Conflict(str(exc)) from None
        return Response(_environment_body(environment))
