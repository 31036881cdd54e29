"""JSON shapes of the state API (the Atlas listing keeps its documented shape)."""

from rest_framework import serializers

from states.models import EnvironmentState, StateVersion


class EnvironmentRefSerializer(serializers.Serializer):
    username = serializers.CharField(source="namespace.name")
    name = serializers.CharField()


class StateListItemSerializer(serializers.ModelSerializer):
    """`{"updated_at": ..., "environment": {"username": ..., "name": ...}}`"""

    environment = EnvironmentRefSerializer()

    class Meta:
        model = EnvironmentState
        fields = ["updated_at", "environment"]


class StateVersionSerializer(serializers.ModelSerializer):
    """One version in the history: what it is, who wrote it, from which run."""

    created_by = serializers.SerializerMethodField()
    run = serializers.SerializerMethodField()
    rolled_back_from = serializers.SerializerMethodField()

    class Meta:
        model = StateVersion
        fields = [
            "serial",
            "lineage",
            "md5",
            "sha256",
            "size",
            "created_at",
            "created_by",
            "run",
            "source",
            "rolled_back_from",
            "door",
            "terraform_version",
        ]

    def get_created_by(self, version) -> str | None:
        return version.created_by.username if version.created_by_id else None

    def get_run(self, version) -> str | None:
        return version.run_id or None

    def get_rolled_back_from(self, version) -> int | None:
        return version.rolled_back_from.serial if version.rolled_back_from_id else None
