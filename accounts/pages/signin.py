"""Signing in (with the second factor), signing up, and password resets.

/admin/ signs in through the same view (atlas.admin_site), so it asks for
the second factor too. Wrong passwords and wrong codes count toward the
failure throttle that the API shares (accounts.throttle).
"""

import time
from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from .. import audit, services, throttle, twofactor
from ..access import ANYONE, declare, guard, rule
from ..context import absolute_url
from ..decorators import confirm_sudo, throttled_page
from ..forms import CodeForm, LoginForm, ResetPasswordForm, SignUpForm
from ..models import User
from ..sessions import end_sessions

PENDING_KEY = "atlas_sign_in_pending"
# What password-reset requests count against in the failure throttle.
RESET_IDENTITY = "password-reset"


def _next_url(request, default=None):
    """The safe `next` of the request, else `default` (else the dashboard)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL) if default is None else default


def complete_sign_in(request, user, device=None, door="web"):
    """Sign `user` in on this session (the second factor, if any, verified)."""
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        django_otp.login(request, device)
    confirm_sudo(request)
    after = {"door": door}
    if device is not None:
        after["second_factor"] = device._meta.verbose_name
    audit.record("user.sign_in", obj=user, actor=user, after=after)


class LoginView(auth_views.LoginView):
    """Password first (its form counts failures); people with two-factor
    sign-in then give a code."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if twofactor.is_enabled(user):
            self.request.session[PENDING_KEY] = {"user": user.pk, "at": int(time.time())}
            target = reverse("accounts:login-code")
            next_url = _next_url(self.request, default="")
            return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
        complete_sign_in(self.request, user)
        return redirect(self.get_success_url())

    def form_invalid(self, form):
        login = str(form.data.get("username", ""))[:150]
        audit.record("user.sign_in_failed", name=login, after={"door": "web"})
        return super().form_invalid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["open_signup"] = settings.ATLAS_OPEN_SIGNUP
        return context


# Django's sign-in and password views serve anyone and answer 405 for other methods.
SIGN_IN_FORM = rule(GET=ANYONE, POST=ANYONE)
login = declare(
    SIGN_IN_FORM, throttled_page(sensitive_post_parameters("password")(LoginView.as_view()))
)


def _pending_user(request):
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("at", 0) > settings.ATLAS_SIGN_IN_CODE_SECONDS:
        return None
    return User.objects.filter(pk=pending.get("user"), is_active=True).first()


@never_cache
@throttled_page
@sensitive_post_parameters("code")
@guard(rule(GET=ANYONE, POST=ANYONE))
def login_code(request):
    """The second step of signing in: a code from the app, or a recovery code."""
    user = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, "Sign in again: the time to enter a code ran out.")
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = twofactor.confirm_code(request, user, form.cleaned_data["code"])
        if device is not None:
            del request.session[PENDING_KEY]
            complete_sign_in(request, user, device)
            if device._meta.model_name == "recoverycodedevice":
                left = twofactor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You used a recovery code; {left} left. "
                    "Generate new ones in your two-factor settings if you are running low.",
                )
            return redirect(_next_url(request))
        audit.record(
            "user.sign_in_failed", obj=user, actor=user, after={"door": "web", "step": "code"}
        )
        form.add_error("code", "That code is not right, or was used already. Try again.")
    return render(
        request, "accounts/login_code.html", {"form": form, "next": _next_url(request, "")}
    )


@sensitive_post_parameters("password1", "password2")
@guard(rule(GET=ANYONE, POST=ANYONE))
def signup(request):
    """Open sign-up, when the operator turned it on (ATLAS_OPEN_SIGNUP)."""
    if not settings.ATLAS_OPEN_SIGNUP:
        raise Http404
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_user(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                email=form.cleaned_data["email"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            complete_sign_in(request, user)
            messages.success(request, f"Welcome, {user.username}.")
            return redirect("accounts:dashboard")
    return render(request, "accounts/signup.html", {"form": form})


# Password resets, by email: Django's views, tokens and forms. A link works
# once (its token hashes the password it resets) and expires after
# PASSWORD_RESET_TIMEOUT seconds.


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-sent")

    def post(self, request, *args, **kwargs):
        # Each request sends mail: bound them per address like failed sign-ins.
        throttle.refuse_if_throttled(request, RESET_IDENTITY)
        throttle.record_failure(request, RESET_IDENTITY)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        self.extra_email_context = {"base_url": absolute_url("/").rstrip("/")}
        audit.record(
            "user.password_reset_request", after={"email": form.cleaned_data["email"][:254]}
        )
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = ResetPasswordForm
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        end_sessions(form.user)
        audit.record("user.password_reset", obj=form.user, actor=form.user)
        return response


password_reset = declare(SIGN_IN_FORM, throttled_page(PasswordResetView.as_view()))
password_reset_sent = declare(
    rule(GET=ANYONE),
    auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
)
# The link's token is the credential.
password_reset_confirm = declare(SIGN_IN_FORM, PasswordResetConfirmView.as_view())
password_reset_complete = declare(
    rule(GET=ANYONE),
    auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"
    ),
)
