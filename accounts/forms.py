"""Forms of the accounts web UI. The rules themselves live in accounts.services."""

from datetime import datetime, time

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import throttle, tokens
from .models import Level, MemberLevel
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
        if not tokens.expiry_allowed(_expiry(day)):
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


class MemberLevelForm(forms.Form):
    level = forms.ChoiceField(choices=MemberLevel.choices)


def add_service_errors(form, exc, field=None):
    """Put a service's ValidationError on `form`, as full sentences.

    Services speak the API's shape ({"name": ["has already been taken"]});
    on a page the field's label makes it read "Name has already been taken."
    """
    errors = exc.message_dict if hasattr(exc, "error_dict") else {field: exc.messages}
    for name, texts in errors.items():
        target = name if name in form.fields else None
        label = form[target].label if target else ""
        for text in texts:
            form.add_error(target, sentence(f"{label} {text}"))


def sentence(text):
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


class ServiceErrorsMixin:
    def add_service_errors(self, exc, field=None):
        add_service_errors(self, exc, field)


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=32,
        label="Code",
        help_text="The six digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class SignUpForm(ServiceErrorsMixin, forms.Form):
    """A new account; the naming and password rules are services.create_user's."""

    username = forms.CharField(
        max_length=64,
        help_text=NAME_HELP,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        help_text="At least 8 characters; not a common password, not only digits.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email=None, **kwargs):
        super().__init__(*args, **kwargs)
        if email is not None:
            # The invitation's address: confirmed by the link that led here.
            del self.fields["email"]

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data

    def add_service_errors(self, exc, field=None):
        if hasattr(exc, "error_dict") and "password" in exc.error_dict:
            exc = ValidationError(
                {("password1" if k == "password" else k): v for k, v in exc.message_dict.items()}
            )
        add_service_errors(self, exc, field)


class InviteForm(forms.Form):
    """Invite by name or by address: one field takes either."""

    invitee = forms.CharField(
        max_length=254,
        label="Username or email",
        help_text="An existing user's name, or anyone's email address.",
    )
    level = forms.ChoiceField(choices=MemberLevel.choices, initial=MemberLevel.READ)

    def invite_arguments(self):
        invitee = self.cleaned_data["invitee"].strip()
        key = "email" if "@" in invitee else "username"
        return {key: invitee, "level": self.cleaned_data["level"]}


class TeamForm(forms.Form):
    name = forms.CharField(max_length=64, help_text=NAME_HELP)


class TeamMemberForm(forms.Form):
    username = forms.ChoiceField(label="Member")

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].choices = [(name, name) for name in candidates]


class GrantTeamForm(forms.Form):
    team = forms.ChoiceField()
    level = forms.ChoiceField(choices=Level.choices, initial=Level.READ)

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [(name, name) for name in teams]


class GrantUserForm(forms.Form):
    username = forms.CharField(max_length=64)
    level = forms.ChoiceField(choices=Level.choices, initial=Level.READ)


class GrantLevelForm(forms.Form):
    level = forms.ChoiceField(choices=Level.choices)


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        label="New email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That password is not right.")
        return password

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if email.lower() == (self.user.email or "").lower():
            raise forms.ValidationError("That is your address already.")
        return email


class TwoFactorRequiredForm(forms.Form):
    require_two_factor = forms.BooleanField(
        required=False,
        label="Require two-factor sign-in",
        help_text="Members without it find the organization closed in the web UI "
        "until they set it up; their API tokens keep working.",
    )


class AuditFilterForm(forms.Form):
    action = forms.CharField(max_length=64, required=False)
    actor = forms.CharField(max_length=150, required=False)
    since = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Since"
    )


PASSWORD_HELP = (
    "At least 8 characters; not a common password, not only digits, "
    "and not like your name or email."
)


class ShortPasswordHelpMixin:
    """Django's password forms, with the rules in one sentence."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = PASSWORD_HELP
        self.fields["new_password2"].help_text = ""


class ChangePasswordForm(ShortPasswordHelpMixin, PasswordChangeForm):
    """A new password, given the current one."""


class ResetPasswordForm(ShortPasswordHelpMixin, SetPasswordForm):
    """A new password, from a reset link."""
