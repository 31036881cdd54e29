"""The admin site: Django's, with its sign-in counted by the failure throttle.

`/admin/login/` is a password form like the web sign-in, so it follows the
same rule (accounts.throttle): repeated failures for one account from one
address are answered with a 429 page.
"""

from django.contrib import admin

from accounts.decorators import throttled_page
from accounts.forms import AdminLoginForm


class AtlasAdminSite(admin.AdminSite):
    login_form = AdminLoginForm

    def login(self, request, extra_context=None):
        login = super().login
        return throttled_page(lambda request: login(request, extra_context))(request)
