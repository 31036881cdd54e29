"""The audit trail in Django admin: every event, read only."""

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Every organization's events and everyone's sign-ins: read only."""

    list_display = (
        "created_at",
        "action",
        "actor_name",
        "token_id",
        "address",
        "namespace_name",
        "object_name",
    )
    list_filter = ("action",)
    search_fields = ("action", "actor_name", "namespace_name", "object_name", "address")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
