"""Answering invitations: one's own list, and the link an email invitation sends."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from .. import invitations
from ..access import ANYONE, SIGNED_IN, guard, rule
from ..forms import SignUpForm
from ..models import MemberLevel
from .signin import complete_sign_in


@guard(rule(GET=SIGNED_IN))
def invitation_list(request):
    pending = invitations.pending_for_user(request.user)
    return render(request, "accounts/invitations.html", {"invitations": pending})


def _mine(request, public_id):
    invitation = invitations.for_user(request.user, public_id)
    if invitation is None:
        raise Http404
    return invitation


def _accept(request, invitation):
    try:
        membership = invitations.accept(invitation, request.user)
    except invitations.InvitationClosed as exc:
        messages.error(request, str(exc))
        return redirect("accounts:invitations")
    name = membership.organization.name
    if membership.level == MemberLevel.NONE:
        messages.success(request, f"You joined {name}: its teams and grants give you access.")
    else:
        messages.success(request, f"You joined {name} with {membership.level} access.")
    return redirect("accounts:organization", name=name)


def _decline(request, invitation):
    try:
        invitations.decline(invitation, request.user)
    except invitations.InvitationClosed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"You declined to join {invitation.organization.name}.")
    return redirect("accounts:invitations")


@guard(rule(POST=SIGNED_IN))
def accept(request, public_id):
    return _accept(request, _mine(request, public_id))


@guard(rule(POST=SIGNED_IN))
def decline(request, public_id):
    return _decline(request, _mine(request, public_id))


@never_cache
@sensitive_post_parameters("password1", "password2")
@guard(rule(GET=ANYONE, POST=ANYONE))
def link(request, public_id, secret):
    """An email invitation's link: sign up with it, or answer it as the signed-in person."""
    invitation = invitations.from_link(public_id, secret)
    if invitation is None:
        raise Http404
    context = {"invitation": invitation, "closed": None}
    if invitation.state != "pending":
        context["closed"] = {
            "expired": "This invitation has expired: ask for a new one.",
            "accepted": "This invitation was used already.",
            "declined": "This invitation was declined.",
            "revoked": "This invitation was withdrawn.",
        }[invitation.state]
        return render(request, "accounts/invitation_link.html", context, status=410)
    if request.user.is_authenticated:
        if request.method == "POST":
            if request.POST.get("answer") == "decline":
                return _decline(request, invitation)
            return _accept(request, invitation)
        return render(request, "accounts/invitation_link.html", context)
    form = SignUpForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.sign_up_and_accept(
                invitation,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except invitations.InvitationClosed as exc:
            messages.error(request, str(exc))
            return redirect(request.path)
        else:
            complete_sign_in(request, user)
            messages.success(
                request, f"Welcome, {user.username}: you joined {invitation.organization.name}."
            )
            return redirect("accounts:organization", name=invitation.organization.name)
    context["form"] = form
    return render(request, "accounts/invitation_link.html", context)
