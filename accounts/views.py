"""The people-facing pages of accounts: sign-in, dashboard, tokens, organizations.

Every rule (naming, uniqueness, the last admin, who may see what) is
accounts.services' or accounts.access'; these views only turn their answers
into pages, form errors and messages.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import services, tokens
from .access import namespace_for
from .decorators import confirm_sudo, require_sudo_mode, sudo_active, throttled_page
from .forms import LoginForm, MemberAddForm, MemberLevelForm, OrganizationForm, TokenForm
from .models import Level, Token


def _sentence(text):
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _add_service_errors(form, exc, field):
    """Put a service's ValidationError on the form, as full sentences.

    Services speak the API's shape ({"name": ["has already been taken"]});
    on a page the field's label makes it read "Name has already been taken."
    """
    errors = exc.message_dict if hasattr(exc, "error_dict") else {field: exc.messages}
    for name, texts in errors.items():
        target = name if name in form.fields else None
        label = form[target].label if target else ""
        for text in texts:
            form.add_error(target, _sentence(f"{label} {text}"))


def _error_messages(request, exc):
    for text in exc.messages:
        messages.error(request, _sentence(text))


# Sign-in and sign-out


class _LoginView(auth_views.LoginView):
    """Django's sign-in; its form checks the password through the failure throttle."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        # Django's login() rotates the session key; the password was just typed.
        response = super().form_valid(form)
        confirm_sudo(self.request)
        return response


login = throttled_page(_LoginView.as_view())
logout = auth_views.LogoutView.as_view()


# Dashboard


def _own_tokens(user):
    return Token.objects.filter(user=user, kind=Token.Kind.USER)


def _active(now):
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


@login_required
@require_GET
def dashboard(request):
    user = request.user
    memberships = user.memberships.select_related("organization__namespace").order_by(
        "organization__namespace__name"
    )
    namespaces = [{"name": user.username, "kind": "user", "level": Level.ADMIN}]
    namespaces += [
        {"name": m.organization.name, "kind": "organization", "level": m.level} for m in memberships
    ]
    context = {
        "namespaces": namespaces,
        "active_tokens": _own_tokens(user).filter(_active(timezone.now())).count(),
        "api_url": settings.EXTERNAL_URL or request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "accounts/dashboard.html", context)


# Tokens


def _tokens_page(request, form):
    context = {
        "tokens": _own_tokens(request.user),
        "a_minute_ago": timezone.now() - timedelta(minutes=1),
        "form": form,
        "sudo_needed": not sudo_active(request),
    }
    return render(request, "accounts/tokens.html", context)


@login_required
@require_GET
def token_list(request):
    return _tokens_page(request, TokenForm())


@login_required
@require_POST
@never_cache
@throttled_page
@require_sudo_mode(cancel="accounts:tokens")
def token_create(request):
    """Issue a token and show its text in this very response, once.

    The text goes nowhere else: not into the session, a redirect or a cache
    (never_cache sends `Cache-Control: no-store`).
    """
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form)
    token, text = tokens.issue(request.user, **form.token_arguments())
    return render(request, "accounts/token_created.html", {"token": token, "text": text})


@login_required
@require_POST
def token_revoke(request, public_id):
    token = get_object_or_404(_own_tokens(request.user), public_id=public_id)
    label = token.description or token.public_id
    if tokens.revoke(token):
        messages.success(request, f"Token “{label}” revoked. It no longer works.")
    else:
        messages.info(request, f"Token “{label}” was already revoked.")
    return redirect("accounts:tokens")


# Organizations


def _organizations_page(request, form):
    memberships = request.user.memberships.select_related("organization__namespace").order_by(
        "organization__namespace__name"
    )
    return render(
        request, "accounts/organizations.html", {"memberships": memberships, "form": form}
    )


@login_required
@require_GET
def organization_list(request):
    return _organizations_page(request, OrganizationForm())


@login_required
@require_POST
def organization_create(request):
    form = OrganizationForm(request.POST)
    if form.is_valid():
        try:
            organization = services.create_organization(request.user, form.cleaned_data["name"])
        except ValidationError as exc:
            _add_service_errors(form, exc, "name")
        else:
            messages.success(request, f"Organization {organization.name} created.")
            return redirect("accounts:organization", name=organization.name)
    return _organizations_page(request, form)


def _organization(request, name, needed=Level.READ):
    """(organization, caller's level); 404 for non-members, 403 below `needed`."""
    namespace, level = namespace_for(request, name, needed)
    if not namespace.is_organization:
        raise Http404
    return namespace.organization, level


def _membership(organization, username):
    return get_object_or_404(
        organization.memberships.select_related("user", "organization"),
        user__username__iexact=username,
    )


def _members_page(request, organization, level, add_form):
    context = {
        "organization": organization,
        "level": level,
        "is_admin": level == Level.ADMIN,
        "memberships": organization.memberships.select_related("user").order_by("user__username"),
        "levels": Level.choices,
        "add_form": add_form,
    }
    return render(request, "accounts/organization.html", context)


@login_required
@require_GET
def organization_detail(request, name):
    organization, level = _organization(request, name)
    return _members_page(request, organization, level, MemberAddForm())


@login_required
@require_POST
def member_add(request, name):
    organization, level = _organization(request, name, Level.ADMIN)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        user = services.find_user(form.cleaned_data["username"])
        if user is None:
            form.add_error("username", "There is no user with that name.")
        else:
            try:
                services.add_member(organization, user, form.cleaned_data["level"])
            except ValidationError as exc:
                _add_service_errors(form, exc, "username")
            else:
                level_name = Level(form.cleaned_data["level"]).label.lower()
                messages.success(request, f"{user.username} added with {level_name} access.")
                return redirect("accounts:organization", name=organization.name)
    return _members_page(request, organization, level, form)


@login_required
@require_POST
def member_level(request, name, username):
    organization, _ = _organization(request, name, Level.ADMIN)
    membership = _membership(organization, username)
    form = MemberLevelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose read, write or admin.")
    else:
        try:
            services.change_level(membership, form.cleaned_data["level"])
        except ValidationError as exc:
            _error_messages(request, exc)
        else:
            level_name = Level(membership.level).label.lower()
            messages.success(request, f"{membership.user.username} now has {level_name} access.")
    return redirect("accounts:organization", name=organization.name)


@login_required
@require_POST
def member_remove(request, name, username):
    organization, _ = _organization(request, name, Level.ADMIN)
    membership = _membership(organization, username)
    try:
        services.remove_member(membership)
    except ValidationError as exc:
        _error_messages(request, exc)
        return redirect("accounts:organization", name=organization.name)
    if membership.user_id == request.user.pk:
        messages.success(request, f"You left {organization.name}.")
        return redirect("accounts:organizations")
    messages.success(request, f"{membership.user.username} removed from {organization.name}.")
    return redirect("accounts:organization", name=organization.name)
