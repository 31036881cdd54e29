"""Django admin for notifications: what operators look at when a receiver
complains. URLs and secrets stay sealed; changes go through the web UI or
the API, where their rules are."""

from django.contrib import admin

from .models import Delivery, DeliveryAttempt, NotificationConfiguration


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationConfiguration)
class NotificationConfigurationAdmin(ReadOnly):
    list_display = ["id", "environment", "kind", "enabled", "failing_since", "created_at"]
    list_filter = ["kind", "enabled"]
    list_select_related = ["environment__namespace"]
    search_fields = ["environment__name", "environment__namespace__name"]
    exclude = ["url_sealed", "url_key_id", "secret_sealed", "secret_key_id"]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    list_display = ["id", "configuration", "event", "run", "status", "attempt_count", "created_at"]
    list_filter = ["status", "event"]
    list_select_related = ["configuration", "run"]
    raw_id_fields = ["configuration", "run"]
    inlines = [AttemptInline]
