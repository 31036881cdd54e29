"""Second factors and web sessions in Django admin, and /admin/ asking for the second factor."""

from django.contrib import admin

from accounts.sessions import WebSession

from .models import RecoveryCodeDevice, TotpDevice


@admin.register(WebSession)
class WebSessionAdmin(admin.ModelAdmin):
    """Signed-in browsers; deleting one signs it out."""

    list_display = ("user", "address", "user_agent", "created_at", "last_seen_at", "expire_date")
    search_fields = ("user__username", "address")
    list_select_related = ("user",)
    fields = ("user", "address", "user_agent", "created_at", "last_seen_at", "expire_date")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


class SecondFactorAdmin(admin.ModelAdmin):
    """A person who lost both their phone and their recovery codes asks an
    operator to delete their devices; they can then sign in with the
    password alone and set two-factor sign-in up again."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


admin.site.register(TotpDevice, SecondFactorAdmin)
admin.site.register(RecoveryCodeDevice, SecondFactorAdmin)
