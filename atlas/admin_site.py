"""The admin site: Django's, signing in through the web sign-in's view.

`/admin/login/` is a password form like the web sign-in, so it follows the
same rules: the failure throttle (accounts.throttle) answers repeated
failures for one account from one address with a 429 page, and people with
two-factor sign-in give a code next (accounts.pages.signin). A session that
did not pass the second factor of a person who has one is not let in.
"""

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts import twofactor
from accounts.decorators import throttled_page
from accounts.forms import AdminLoginForm
from accounts.pages.signin import LoginView
from accounts.privileges import session_verified


class AtlasAdminSite(admin.AdminSite):
    site_header = "Atlas administration"
    site_title = "Atlas admin"
    index_title = "Operate this server"
    site_url = "/"
    login_form = AdminLoginForm

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        user = request.user
        return session_verified(user) or not twofactor.is_enabled(user)

    def login(self, request, extra_context=None):
        """Django's admin sign-in page, served by the web sign-in's view."""
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        view = LoginView.as_view(
            extra_context=context,
            authentication_form=self.login_form,
            template_name=self.login_template or "admin/login.html",
            redirect_authenticated_user=False,
        )
        return throttled_page(view)(request)
