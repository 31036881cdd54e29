"""Operators see state metadata here; bodies stay encrypted blobs (download
them through the state page) and the head changes only through the API rules."""

from django.contrib import admin

from .models import EnvironmentState, StateUpload, StateVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StateVersion)
class StateVersionAdmin(ReadOnlyAdmin):
    list_display = [
        "environment",
        "serial",
        "lineage",
        "size",
        "source",
        "door",
        "terraform_version",
        "created_by",
        "created_at",
    ]
    list_filter = ["source", "door"]
    list_select_related = ["environment__namespace", "created_by"]
    search_fields = ["environment__name", "environment__namespace__name", "lineage", "run_id"]
    ordering = ["-created_at"]


@admin.register(EnvironmentState)
class EnvironmentStateAdmin(ReadOnlyAdmin):
    list_display = ["environment", "head", "max_serial", "updated_at"]
    list_select_related = ["environment__namespace", "head"]
    search_fields = ["environment__name", "environment__namespace__name"]
    ordering = ["-updated_at"]


@admin.register(StateUpload)
class StateUploadAdmin(ReadOnlyAdmin):
    """TFE state versions announced for upload; their secrets are digests only."""

    list_display = ["environment", "serial", "created_by", "created_at", "used_at", "version"]
    list_select_related = ["environment__namespace", "created_by", "version"]
    exclude = ["secret_digest", "json_secret_digest"]
    ordering = ["-created_at"]
