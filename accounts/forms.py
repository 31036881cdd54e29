"""Forms of the accounts web UI. The rules themselves live in accounts.services."""

from datetime import datetime, time

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from . import throttle
from .models import Level
from .names import NAME_HELP


class ThrottledSignInMixin:
    """Check the password through the failure throttle (accounts.throttle).

    Django's `AuthenticationForm.clean`, with `authenticate_password` in
    place of `authenticate`: a throttled (address, login) raises
    TooManyFailures, which the view answers with a 429 page.
    """

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = throttle.authenticate_password(self.request, username, password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AdminLoginForm(ThrottledSignInMixin, AdminAuthenticationForm):
    """The admin's sign-in form, counted like the web's."""


class LoginForm(ThrottledSignInMixin, AuthenticationForm):
    """Django's sign-in form with the browser hints filled in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(autocomplete="username", autofocus=True)
        self.fields["password"].widget.attrs.update(autocomplete="current-password")


def _expiry(day):
    """The instant a token chosen to expire on `day` stops working."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


class TokenForm(forms.Form):
    description = forms.CharField(
        max_length=200,
        required=False,
        help_text="What the token is for, e.g. “CI pipeline” or “laptop”.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The token stops working at 00:00 UTC on this date.",
    )
    read_only = forms.BooleanField(
        required=False,
        label="Read-only",
        help_text="The token can read but never change anything.",
    )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is None:
            return None
        if _expiry(day) <= timezone.now():
            raise forms.ValidationError("The expiry date must be in the future.")
        return day

    def token_arguments(self):
        """Keyword arguments for accounts.tokens.issue."""
        day = self.cleaned_data["expires_on"]
        return {
            "description": self.cleaned_data["description"],
            "read_only": self.cleaned_data["read_only"],
            "expires_at": _expiry(day) if day else None,
        }


class OrganizationForm(forms.Form):
    # The naming rule and the uniqueness check are services.create_organization's.
    name = forms.CharField(max_length=64, help_text=NAME_HELP)


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=64)
    level = forms.ChoiceField(choices=Level.choices, initial=Level.READ)


class MemberLevelForm(forms.Form):
    level = forms.ChoiceField(choices=Level.choices)
