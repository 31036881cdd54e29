"""Shapes of notification configurations and deliveries in /api/v1."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Delivery, DeliveryAttempt, Kind, NotificationConfiguration
from ..services import masked_url


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class StringListField(serializers.Field):
    """A list of strings, or one comma-separated string (handy in forms)."""

    default_error_messages = {"invalid": "must be a list of strings"}

    def to_internal_value(self, data):
        if isinstance(data, str):
            return data
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return list(value)


class NotificationInput(serializers.Serializer):
    """What a POST or PATCH may send; the rules are `services.clean`."""

    kind = serializers.CharField(required=False)
    url = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)
    recipients = StringListField(required=False)
    events = StringListField(required=False)
    enabled = serializers.BooleanField(required=False)


class NotificationSerializer(serializers.ModelSerializer):
    """A configuration; never its secret, and its URL with credentials masked."""

    url = serializers.SerializerMethodField()
    recipients = serializers.ListField(child=serializers.CharField())
    events = serializers.ListField(child=serializers.CharField())
    disabled_reason = serializers.SerializerMethodField()
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = NotificationConfiguration
        fields = [
            "id",
            "kind",
            "url",
            "recipients",
            "events",
            "enabled",
            "disabled_reason",
            "failing_since",
            "has_secret",
            "created_at",
            "updated_at",
        ]

    def get_url(self, configuration) -> str | None:
        return masked_url(configuration) if configuration.kind != Kind.EMAIL else None

    def get_disabled_reason(self, configuration) -> str | None:
        return configuration.disabled_reason or None

    def get_has_secret(self, configuration) -> bool:
        return bool(configuration.secret_sealed)


class CreatedNotificationSerializer(NotificationSerializer):
    """A configuration just created, with the webhook's signing secret: the
    only answer that ever holds it (null for other kinds)."""

    secret = serializers.SerializerMethodField()

    class Meta(NotificationSerializer.Meta):
        fields = [*NotificationSerializer.Meta.fields, "secret"]

    def get_secret(self, configuration) -> str | None:
        return self.context.get("secret")


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "started_at",
            "finished_at",
            "outcome",
            "status_code",
            "latency_ms",
            "error",
            "response",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    """A delivery with every attempt (prefetch `attempts`)."""

    run = serializers.IntegerField(source="run_id", allow_null=True)
    attempts = AttemptSerializer(many=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "status",
            "run",
            "message",
            "occurred_at",
            "attempt_count",
            "next_attempt_at",
            "finished_at",
            "last_error",
            "created_at",
            "attempts",
        ]
