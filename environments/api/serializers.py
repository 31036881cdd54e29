"""Shapes of environments and configuration versions in /api/v1."""

from rest_framework import serializers

from ..models import ConfigurationVersion, Environment, ExecutionMode


class LockSerializer(serializers.Serializer):
    """The one lock: who holds it, through which door and client, doing what, since when."""

    holder = serializers.CharField(source="lock_holder")
    reason = serializers.CharField(source="lock_reason")
    locked_at = serializers.DateTimeField()
    kind = serializers.CharField(source="lock_kind")
    client = serializers.CharField(source="lock_client")
    operation = serializers.CharField(source="lock_operation")
    id = serializers.CharField(source="lock_id")
    description = serializers.CharField(source="lock_description")


class EnvironmentSerializer(serializers.ModelSerializer):
    """An environment; `latest_version` needs `selectors.with_latest_version()`."""

    username = serializers.CharField(source="namespace.name")
    lock = serializers.SerializerMethodField()
    latest_version = serializers.IntegerField(read_only=True, allow_null=True, default=None)

    class Meta:
        model = Environment
        fields = [
            "username",
            "name",
            "auto_apply",
            "execution_mode",
            "terraform_version",
            "locked",
            "lock",
            "latest_version",
            "created_at",
            "updated_at",
        ]

    def get_lock(self, environment) -> dict | None:
        return LockSerializer(environment).data if environment.locked else None


class EnvironmentCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=200)
    auto_apply = serializers.BooleanField(required=False, default=False)


class EnvironmentUpdateSerializer(serializers.Serializer):
    auto_apply = serializers.BooleanField(required=False)
    execution_mode = serializers.ChoiceField(choices=ExecutionMode.choices, required=False)


class VersionSerializer(serializers.ModelSerializer):
    """A configuration version in lists: never its variables or secret."""

    version = serializers.IntegerField(source="number")
    status = serializers.CharField(source="current_status")
    error = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = ConfigurationVersion
        fields = [
            "version",
            "status",
            "error",
            "metadata",
            "created_at",
            "created_by",
            "finished_at",
            "archive_size",
            "archive_sha256",
        ]

    def get_error(self, version) -> str | None:
        return version.current_error or None

    def get_created_by(self, version) -> str | None:
        return version.created_by.username if version.created_by_id else None
