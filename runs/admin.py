"""Django admin for runs: the operators' view of the queue.

Runs change status only through `runs.machine`, so the admin shows them
read-only and offers the same actions people have (cancel, discard), which
go through the state machine like every other caller.
"""

from django.contrib import admin, messages

from . import machine
from .models import Run, RunLogChunk


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "environment",
        "status",
        "destroy",
        "created_by",
        "created_at",
        "holds_lock",
        "worker_id",
        "heartbeat_at",
    ]
    list_filter = ["status", "destroy", "holds_lock"]
    search_fields = ["environment__name", "environment__namespace__name", "worker_id"]
    list_select_related = ["environment__namespace", "created_by"]
    ordering = ["-id"]
    actions = ["cancel_runs", "discard_runs"]
    exclude = ["tokens"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _act(self, request, queryset, action):
        done = refused = 0
        for run in queryset:
            try:
                getattr(machine, action)(run, request.user)
                done += 1
            except machine.TransitionRefused:
                refused += 1
        messages.info(request, f"{done} run(s) done ({action}); {refused} refused by their status.")

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request, queryset):
        self._act(request, queryset, "cancel")

    @admin.action(description="Discard the selected planned runs")
    def discard_runs(self, request, queryset):
        self._act(request, queryset, "discard")


@admin.register(RunLogChunk)
class RunLogChunkAdmin(admin.ModelAdmin):
    list_display = ["run", "phase", "offset", "size", "created_at"]
    list_select_related = ["run"]
    raw_id_fields = ["run"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


from .notifications import admin as notification_admin  # noqa: E402, F401  (registers them)
