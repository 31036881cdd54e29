"""A person's own account: password, email address and web sessions."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.core import signing
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters

from .. import audit, emails, twofactor
from ..access import SIGNED_IN, guard, rule
from ..context import absolute_url
from ..forms import ChangePasswordForm, EmailChangeForm
from ..sessions import end_sessions, public_id, sessions_of

EMAIL_SALT = "atlas.accounts.email-change"


def _account_page(request, password_form=None, email_form=None):
    current = request.session.session_key
    sessions = list(sessions_of(request.user))
    for session in sessions:
        session.is_current = session.session_key == current
    context = {
        "password_form": password_form or ChangePasswordForm(request.user),
        "email_form": email_form or EmailChangeForm(user=request.user),
        "sessions": sessions,
        "two_factor": twofactor.is_enabled(request.user),
        "codes_left": twofactor.recovery_codes_left(request.user),
    }
    return render(request, "accounts/account.html", context)


@guard(rule(GET=SIGNED_IN))
def account(request):
    return _account_page(request)


@guard(rule(POST=SIGNED_IN))
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def change_password(request):
    """A new password, given the current one; every other session ends."""
    form = ChangePasswordForm(request.user, request.POST)
    if not form.is_valid():
        return _account_page(request, password_form=form)
    with transaction.atomic():
        user = form.save()
        audit.record("user.password_change", obj=user)
    update_session_auth_hash(request, user)
    ended = end_sessions(user, keep=request.session.session_key)
    others = f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""
    messages.success(request, f"Password changed.{others}")
    if user.email:
        emails.send(user.email, "password_changed", {"user": user})
    return redirect("accounts:account")


@guard(rule(POST=SIGNED_IN))
@sensitive_post_parameters("password")
def change_email(request):
    """Send a confirmation link to the new address; nothing changes until it is opened."""
    form = EmailChangeForm(request.POST, user=request.user)
    if not form.is_valid():
        return _account_page(request, email_form=form)
    new = form.cleaned_data["email"]
    token = signing.dumps(
        {"user": request.user.pk, "email": new, "old": request.user.email}, salt=EMAIL_SALT
    )
    url = absolute_url(reverse("accounts:email-confirm", kwargs={"token": token}))
    emails.send(new, "email_confirm", {"user": request.user, "url": url, "email": new})
    messages.success(request, f"We sent a link to {new}: open it to confirm the new address.")
    return redirect("accounts:account")


@guard(rule(GET=SIGNED_IN, POST=SIGNED_IN))
def confirm_email(request, token):
    """The link from the confirmation email: works once, for its own account, until it expires."""
    try:
        data = signing.loads(
            token, salt=EMAIL_SALT, max_age=settings.ATLAS_EMAIL_CONFIRM_TTL_SECONDS
        )
    except signing.SignatureExpired:
        return _email_link_failed(request, "This link has expired: ask for a new one.")
    except signing.BadSignature:
        raise Http404 from None
    user = request.user
    if data.get("user") != user.pk:
        raise Http404
    if data.get("old") != user.email:
        return _email_link_failed(request, "This link was used already.")
    if request.method == "GET":
        return render(request, "accounts/email_confirm.html", {"email": data["email"]})
    old = user.email
    with transaction.atomic():
        user.email = data["email"]
        user.save(update_fields=["email"])
        audit.record(
            "user.email_change", obj=user, before={"email": old}, after={"email": user.email}
        )
    if old:
        emails.send(old, "email_changed", {"user": user, "email": user.email})
    messages.success(request, f"Your email address is now {user.email}.")
    return redirect("accounts:account")


def _email_link_failed(request, message):
    messages.error(request, message)
    return redirect("accounts:account")


@guard(rule(POST=SIGNED_IN))
def end_session(request, session_id):
    """End one of one's own sessions (this one signs out)."""
    for session in sessions_of(request.user):
        if public_id(session.session_key) == session_id:
            audit.record("user.session_end", obj=request.user, after={"session": session_id})
            if session.session_key == request.session.session_key:
                logout(request)
                return redirect("accounts:login")
            session.delete()
            messages.success(request, "Session ended.")
            return redirect("accounts:account")
    raise Http404


@guard(rule(POST=SIGNED_IN))
def end_other_sessions(request):
    ended = end_sessions(request.user, keep=request.session.session_key)
    audit.record("user.session_end", obj=request.user, after={"sessions": ended})
    messages.success(request, f"{ended} other session{'s' if ended != 1 else ''} ended.")
    return redirect("accounts:account")
