"""`/api/v1/environments/:username/:name/notifications`: an environment's
notification configurations (admins only: their URLs are credentials),
a test delivery, and the deliveries with every attempt."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import rule
from accounts.models import Level
from atlas.api.envelopes import unwrap, validated
from atlas.api.pagination import envelope_pagination
from environments.lookup import ENVIRONMENT

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


# Admins only: a configuration's URL is a credential.
ADMINS = rule(ENVIRONMENT, GET=Level.ADMIN, POST=Level.ADMIN, PATCH=Level.ADMIN, DELETE=Level.ADMIN)


class ConfigurationMixin:
    @property
    def configuration(self):
        return services.find_configuration(self.environment, self.kwargs["pk"])


def _input(request):
    return validated(NotificationInput(data=unwrap(request.data, "notification")))


class NotificationsView(ListAPIView):
    """List the environment's configurations; create one (its `secret` is
    in this answer only)."""

    access_rule = ADMINS
    serializer_class = NotificationSerializer
    pagination_class = envelope_pagination("notifications")

    def get_queryset(self):
        return NotificationConfiguration.objects.filter(environment=self.environment).order_by("id")

    @extend_schema(request=NotificationRequest, responses={201: CreatedBody})
    def post(self, request, username, name):
        configuration, secret = services.create_configuration(
            self.environment, request.user, _input(request)
        )
        body = CreatedNotificationSerializer(configuration, context={"secret": secret}).data
        return Response(
            {"notification": body},
            status=status.HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )


class NotificationView(ConfigurationMixin, APIView):
    access_rule = ADMINS

    @extend_schema(responses={200: NotificationBody})
    def get(self, request, username, name, pk):
        return Response({"notification": NotificationSerializer(self.configuration).data})

    @extend_schema(request=NotificationRequest, responses={200: NotificationBody})
    def patch(self, request, username, name, pk):
        configuration = services.update_configuration(self.configuration, _input(request))
        return Response({"notification": NotificationSerializer(configuration).data})

    @extend_schema(responses={204: None})
    def delete(self, request, username, name, pk):
        services.delete_configuration(self.configuration)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationTestView(ConfigurationMixin, APIView):
    """Queue a test delivery; its outcome shows in the deliveries."""

    access_rule = ADMINS

    @extend_schema(request=None, responses={202: DeliveryBody})
    def post(self, request, username, name, pk):
        delivery = services.send_test(self.configuration)
        delivery = Delivery.objects.prefetch_related("attempts").get(pk=delivery.pk)
        return Response(
            {"delivery": DeliverySerializer(delivery).data}, status=status.HTTP_202_ACCEPTED
        )


class DeliveriesView(ConfigurationMixin, ListAPIView):
    """The configuration's deliveries, newest first, each with its attempts."""

    access_rule = ADMINS

    serializer_class = DeliverySerializer
    pagination_class = envelope_pagination("deliveries")

    def get_queryset(self):
        return (
            Delivery.objects.filter(configuration=self.configuration)
            .prefetch_related("attempts")
            .order_by("-created_at")
        )
