"""The run as the API shows it."""

from rest_framework import serializers

from runs.machine import RUNNING, TERMINAL
from runs.models import Run, Status


class RunSerializer(serializers.ModelSerializer):
    environment = serializers.SerializerMethodField()
    configuration_version = serializers.IntegerField(source="configuration_version.number")
    created_by = serializers.SerializerMethodField()
    confirmed_by = serializers.SerializerMethodField()
    status_timestamps = serializers.SerializerMethodField()
    finished = serializers.SerializerMethodField()
    cancel_requested = serializers.SerializerMethodField()
    holds_lock = serializers.BooleanField(read_only=True)
    worker = serializers.CharField(source="worker_id", read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "status",
            "destroy",
            "source",
            "speculative",
            "terraform_version",
            "environment",
            "configuration_version",
            "created_by",
            "confirmed_by",
            "auto_applied",
            "message",
            "created_at",
            "status_timestamps",
            "has_changes",
            "resource_additions",
            "resource_changes",
            "resource_destructions",
            "finished",
            "cancel_requested",
            "holds_lock",
            "worker",
            "heartbeat_at",
        ]

    def get_environment(self, run) -> dict:
        return {"username": run.environment.namespace.name, "name": run.environment.name}

    def get_created_by(self, run) -> str | None:
        return run.created_by.username if run.created_by_id else None

    def get_confirmed_by(self, run) -> str | None:
        return run.confirmed_by.username if run.confirmed_by_id else None

    def get_status_timestamps(self, run) -> dict:
        return {
            f"{status}_at": when.isoformat().replace("+00:00", "Z")
            for status, when in run.status_timestamps().items()
        }

    def get_finished(self, run) -> bool:
        return run.status in TERMINAL

    def get_cancel_requested(self, run) -> bool:
        return run.cancel_requested_at is not None and run.status in RUNNING


RUN_RELATED = (
    "environment__namespace",
    "configuration_version",
    "created_by",
    "confirmed_by",
)

__all__ = ["RUN_RELATED", "RunSerializer", "Status"]
