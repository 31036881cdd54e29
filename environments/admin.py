"""Django admin for environments, variables and configuration versions.

Variable values and upload secrets are never shown here: values are sealed
and sensitive ones write-only; change variables through the web UI or API.
"""

from django.contrib import admin

from .models import ConfigurationVersion, Environment, Variable


class VariableInline(admin.TabularInline):
    model = Variable
    fields = ["category", "key", "hcl", "sensitive", "updated_at", "updated_by"]
    readonly_fields = fields
    extra = 0
    can_delete = True
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "auto_apply", "locked", "lock_kind", "lock_reason", "updated_at"]
    list_filter = ["auto_apply", "locked"]
    search_fields = ["name", "namespace__name"]
    list_select_related = ["namespace"]
    raw_id_fields = ["namespace", "created_by", "locked_by"]
    readonly_fields = ["created_at", "updated_at", "locked_at"]
    inlines = [VariableInline]


@admin.register(Variable)
class VariableAdmin(admin.ModelAdmin):
    list_display = ["key", "category", "environment", "hcl", "sensitive", "updated_at"]
    list_filter = ["category", "sensitive", "hcl"]
    search_fields = ["key", "environment__name", "environment__namespace__name"]
    list_select_related = ["environment__namespace"]
    fields = ["environment", "category", "key", "hcl", "sensitive", "updated_at", "updated_by"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(ConfigurationVersion)
class ConfigurationVersionAdmin(admin.ModelAdmin):
    list_display = ["environment", "number", "status", "created_by", "created_at", "archive_size"]
    list_filter = ["status"]
    search_fields = ["environment__name", "environment__namespace__name"]
    list_select_related = ["environment__namespace", "created_by"]
    fields = [
        "environment",
        "number",
        "status",
        "error",
        "metadata",
        "created_by",
        "created_at",
        "finished_at",
        "upload_expires_at",
        "upload_used_at",
        "archive_name",
        "archive_key_id",
        "archive_size",
        "archive_sha256",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False
