"""The people-facing pages of accounts: dashboard, tokens, organizations.

Every rule (naming, uniqueness, the last admin, who may see what) is
accounts.services', accounts.invitations' or accounts.access'; these views
only turn their answers into pages, form errors and messages. Sign-in,
account settings, teams, invitations and the audit trail have modules of
their own in accounts.pages.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from runs.selectors import dashboard as runs_dashboard

from . import invitations, services, tokens, twofactor
from .access import ANYONE, MEMBER, ORGANIZATION, SIGNED_IN, declare, guard, rule
from .decorators import require_sudo_mode, sudo_active, throttled_page
from .forms import (
    InviteForm,
    MemberLevelForm,
    OrganizationForm,
    TokenForm,
    TwoFactorRequiredForm,
    add_service_errors,
    sentence,
)
from .models import Level, MemberLevel, Token
from .privileges import adds_members_directly, is_owner, session_verified


def _error_messages(request, exc):
    for text in exc.messages:
        messages.error(request, sentence(text))


# Sign-in lives in accounts.pages.signin; signing out is Django's.

logout = declare(rule(POST=ANYONE), auth_views.LogoutView.as_view())


# Dashboard


def _own_tokens(user):
    return Token.objects.filter(user=user, kind=Token.Kind.USER)


def _active(now):
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


@guard(rule(GET=SIGNED_IN))
def dashboard(request):
    user = request.user
    memberships = user.memberships.select_related("organization__namespace").order_by(
        "organization__namespace__name"
    )
    verified = session_verified(user)
    namespaces = [{"name": user.username, "kind": "user", "level": Level.ADMIN}]
    namespaces += [
        {
            "name": m.organization.name,
            "kind": "organization",
            "level": m.level,
            "closed": m.organization.require_two_factor and not verified,
        }
        for m in memberships
    ]
    context = {
        **runs_dashboard(user),
        "namespaces": namespaces,
        "invitations": list(invitations.pending_for_user(user)),
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
        "enrol_first": twofactor.must_enrol_before_tokens(request.user),
    }
    return render(request, "accounts/tokens.html", context)


@guard(rule(GET=SIGNED_IN))
def token_list(request):
    return _tokens_page(request, TokenForm())


@guard(rule(POST=SIGNED_IN))
@never_cache
@throttled_page
@require_sudo_mode(cancel="accounts:tokens")
def token_create(request):
    """Issue a token and show its text in this very response, once.

    The text goes nowhere else: not into the session, a redirect or a cache
    (never_cache sends `Cache-Control: no-store`).
    """
    form = TokenForm(request.POST)
    if twofactor.must_enrol_before_tokens(request.user):
        form.add_error(None, twofactor.ENROL_NEEDED)
    if not form.is_valid():
        return _tokens_page(request, form)
    token, text = tokens.issue(request.user, **form.token_arguments())
    return render(request, "accounts/token_created.html", {"token": token, "text": text})


@guard(rule(POST=SIGNED_IN))
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
    context = {
        "memberships": memberships,
        "form": form,
        "verified": session_verified(request.user),
        "invitations": list(invitations.pending_for_user(request.user)),
    }
    return render(request, "accounts/organizations.html", context)


@guard(rule(GET=SIGNED_IN))
def organization_list(request):
    return _organizations_page(request, OrganizationForm())


@guard(rule(POST=SIGNED_IN))
def organization_create(request):
    form = OrganizationForm(request.POST)
    if form.is_valid():
        try:
            organization = services.create_organization(request.user, form.cleaned_data["name"])
        except ValidationError as exc:
            add_service_errors(form, exc, "name")
        else:
            messages.success(request, f"Organization {organization.name} created.")
            return redirect("accounts:organization", name=organization.name)
    return _organizations_page(request, form)


def _membership(organization, username):
    return get_object_or_404(
        organization.memberships.select_related("user", "organization"),
        user__username__iexact=username,
    )


def _members_page(request, organization, level, invite_form, settings_form=None):
    owner = is_owner(level)
    context = {
        "organization": organization,
        "level": level,
        "is_admin": owner,
        "memberships": organization.memberships.select_related("user").order_by("user__username"),
        "levels": MemberLevel.choices,
        "invite_form": invite_form,
        "invitations": invitations.pending_for_organization(organization) if owner else [],
        "settings_form": settings_form
        or TwoFactorRequiredForm(initial={"require_two_factor": organization.require_two_factor}),
        "tab": "members",
    }
    return render(request, "accounts/organization.html", context)


@guard(rule(ORGANIZATION, GET=MEMBER))
def organization_detail(request, organization, level):
    return _members_page(request, organization, level, InviteForm())


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def member_invite(request, organization, level):
    """Invite someone; operators add an existing user at once instead."""
    form = InviteForm(request.POST)
    if form.is_valid():
        arguments = form.invite_arguments()
        try:
            if adds_members_directly(request.user) and "username" in arguments:
                user = services.find_user(arguments["username"])
                if user is None:
                    raise ValidationError({"invitee": ["There is no user with that name."]})
                services.add_member(organization, user, arguments["level"])
                done = f"{user.username} added with {arguments['level']} access."
            else:
                invitation = invitations.invite(organization, request.user, **arguments)
                done = f"Invitation sent to {invitation.invitee}."
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"base": exc.messages}
            for texts in errors.values():
                for text in texts:
                    form.add_error("invitee", sentence(text))
        else:
            messages.success(request, done)
            return redirect("accounts:organization", name=organization.name)
    return _members_page(request, organization, level, form)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def invitation_revoke(request, organization, level, public_id):
    invitation = get_object_or_404(organization.invitations, public_id=public_id)
    try:
        invitations.revoke(invitation)
    except invitations.InvitationClosed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Invitation of {invitation.invitee} revoked.")
    return redirect("accounts:organization", name=organization.name)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def organization_settings(request, organization, level):
    form = TwoFactorRequiredForm(request.POST)
    if form.is_valid():
        required = form.cleaned_data["require_two_factor"]
        try:
            services.set_require_two_factor(organization, required, request.user)
        except ValidationError as exc:
            _error_messages(request, exc)
        else:
            state = "now requires" if required else "no longer requires"
            messages.success(request, f"{organization.name} {state} two-factor sign-in.")
    return redirect("accounts:organization", name=organization.name)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def member_level(request, organization, level, username):
    membership = _membership(organization, username)
    form = MemberLevelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose none, read, write or admin.")
    else:
        try:
            services.change_level(membership, form.cleaned_data["level"])
        except ValidationError as exc:
            _error_messages(request, exc)
        else:
            level_name = MemberLevel(membership.level).label.lower()
            messages.success(request, f"{membership.user.username} now has {level_name} access.")
    return redirect("accounts:organization", name=organization.name)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def member_remove(request, organization, level, username):
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
