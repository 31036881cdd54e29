"""`/api/v1/environments/:username/:name/notifications`: an environment's
notification configurations (admins only: their URLs are credentials),
a test delivery, and the deliveries with every attempt."""

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Level
from atlas.api.envelopes import unwrap, validated
from atlas.api.pagination import envelope_pagination
from environments.lookup import environment_for

from .. import services
from ..models import Delivery, NotificationConfiguration
from .serializers import (
    CreatedNotificationSerializer,
    DeliverySerializer,
    NotificationInput,
    NotificationSerializer,
)

NotificationBody = inline_serializer("NotificationBody", {"notification": NotificationSerializer()})
NotificationRequest = inline_serializer(
    "NotificationRequest", {"notification": NotificationInput()}
)
CreatedBody = inline_serializer(
    "NotificationCreated", {"notification": CreatedNotificationSerializer()}
)
DeliveryBody = inline_serializer("DeliveryBody", {"delivery": DeliverySerializer()})


def _environment(request, username, name):
    environment, _level = environment_for(request, username, name, Level.ADMIN)
    return environment


def _configuration(request, username, name, pk):
    environment = _environment(request, username, name)
    configuration = (
        NotificationConfiguration.objects.select_related("environment__namespace")
        .filter(environment=environment, pk=pk)
        .first()
    )
    if configuration is None:
        raise Http404
    return configuration


def _input(request):
    return validated(NotificationInput(data=unwrap(request.data, "notification")))


class NotificationsView(ListAPIView):
    """List the environment's configurations; create one (its `secret` is
    in this answer only)."""

    serializer_class = NotificationSerializer
    pagination_class = envelope_pagination("notifications")

    def get_queryset(self):
        environment = _environment(self.request, self.kwargs["username"], self.kwargs["name"])
        return NotificationConfiguration.objects.filter(environment=environment).order_by("id")

    @extend_schema(request=NotificationRequest, responses={201: CreatedBody})
    def post(self, request, username, name):
        environment = _environment(request, username, name)
        configuration, secret = services.create_configuration(
            environment, request.user, _input(request)
        )
        body = CreatedNotificationSerializer(configuration, context={"secret": secret}).data
        return Response(
            {"notification": body},
            status=status.HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )


class NotificationView(APIView):
    @extend_schema(responses={200: NotificationBody})
    def get(self, request, username, name, pk):
        configuration = _configuration(request, username, name, pk)
        return Response({"notification": NotificationSerializer(configuration).data})

    @extend_schema(request=NotificationRequest, responses={200: NotificationBody})
    def patch(self, request, username, name, pk):
        configuration = _configuration(request, username, name, pk)
        configuration = services.update_configuration(configuration, _input(request))
        return Response({"notification": NotificationSerializer(configuration).data})

    @extend_schema(responses={204: None})
    def delete(self, request, username, name, pk):
        services.delete_configuration(_configuration(request, username, name, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationTestView(APIView):
    """Queue a test delivery; its outcome shows in the deliveries."""

    @extend_schema(request=None, responses={202: DeliveryBody})
    def post(self, request, username, name, pk):
        delivery = services.send_test(_configuration(request, username, name, pk))
        delivery = Delivery.objects.prefetch_related("attempts").get(pk=delivery.pk)
        return Response(
            {"delivery": DeliverySerializer(delivery).data}, status=status.HTTP_202_ACCEPTED
        )


class DeliveriesView(ListAPIView):
    """The configuration's deliveries, newest first, each with its attempts."""

    serializer_class = DeliverySerializer
    pagination_class = envelope_pagination("deliveries")

    def get_queryset(self):
        configuration = _configuration(self.request, **self.kwargs)
        return (
            Delivery.objects.filter(configuration=configuration)
            .prefetch_related("attempts")
            .order_by("-created_at")
        )
