"""Invitations: how people join an organization. The rules, for API and web UI.

An organization admin invites an existing user by name or anyone by email,
at a membership level. Only the invited user can accept or decline an
invitation by name. An invitation by email is a link whose secret only the
recipient has (the database keeps a keyed digest); it leads to sign-up, or
to accepting as the signed-in person. Each is answered once, and expires.
"""

import hmac
import secrets
from datetime import timedelta
from hashlib import sha256

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from atlas.keys import UnknownKey, key_ring

from . import audit, emails, services
from .context import absolute_url
from .models import Invitation, MemberLevel, Membership
from .tokens import BASE62

PUBLIC_ID_LENGTH = 16
SECRET_BYTES = 32
DIGEST_PURPOSE = "invitation-link"


class InvitationClosed(Exception):
    """The invitation was answered, revoked or expired (409 in the API)."""


def _digest(secret, key_id):
    key = key_ring().derive(DIGEST_PURPOSE, key_id)
    return hmac.new(key, secret.encode(), sha256).hexdigest()


def _public_id():
    return "".join(secrets.choice(BASE62) for _ in range(PUBLIC_ID_LENGTH))


def _pending(queryset, now=None):
    return queryset.filter(status=Invitation.Status.PENDING, expires_at__gt=now or timezone.now())


def pending_for_user(user):
    """Invitations by name waiting for `user`'s answer."""
    return _pending(Invitation.objects.filter(user=user)).select_related(
        "organization__namespace", "invited_by"
    )


def pending_for_organization(organization):
    return _pending(Invitation.objects.filter(organization=organization)).select_related(
        "user", "invited_by"
    )


@transaction.atomic
def invite(organization, inviter, *, username="", email="", level=MemberLevel.READ):
    """Invite a user by name or a person by email; returns the invitation.

    Sends the email once the transaction commits: to the user, a pointer to
    their invitations; to an address, the single-use link.
    """
    username, email = (username or "").strip(), (email or "").strip()
    if bool(username) == bool(email):
        raise ValidationError({"base": ["invite either a username or an email address"]})
    if level not in MemberLevel.values:
        raise ValidationError({"level": [f"must be one of {', '.join(MemberLevel.values)}"]})
    user = None
    if username:
        user = services.find_user(username)
        if user is None:
            raise ValidationError({"username": ["no such user"]})
        if Membership.objects.filter(organization=organization, user=user).exists():
            raise ValidationError({"username": ["is already a member"]})
        if _pending(Invitation.objects.filter(organization=organization, user=user)).exists():
            raise ValidationError({"username": ["has already been invited"]})
    else:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": ["is not a valid email address"]}) from None
        same = Invitation.objects.filter(organization=organization, email__iexact=email)
        if _pending(same).exists():
            raise ValidationError({"email": ["has already been invited"]})
    now = timezone.now()
    invitation = Invitation(
        public_id=_public_id(),
        organization=organization,
        user=user,
        email="" if user else email,
        level=level,
        invited_by=inviter,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.ATLAS_INVITATION_TTL_SECONDS),
    )
    secret = None
    if user is None:
        secret = secrets.token_urlsafe(SECRET_BYTES)
        invitation.key_id = key_ring().current
        invitation.digest = _digest(secret, invitation.key_id)
    invitation.save()
    audit.record(
        "invitation.create",
        obj=invitation,
        name=invitation.invitee,
        after={"level": level, "invitee": invitation.invitee},
    )
    context = {"invitation": invitation, "organization": organization.name, "inviter": inviter}
    if user is not None:
        if user.email:
            context["url"] = absolute_url(reverse("accounts:invitations"))
            emails.send_on_commit(user.email, "invitation_user", context)
    else:
        context["url"] = absolute_url(link_path(invitation, secret))
        emails.send_on_commit(email, "invitation_email", context)
    return invitation


def link_path(invitation, secret):
    return reverse(
        "accounts:invitation-link", kwargs={"public_id": invitation.public_id, "secret": secret}
    )


def from_link(public_id, secret):
    """The email invitation that `public_id` and `secret` name, or None."""
    invitation = (
        Invitation.objects.select_related("organization__namespace", "invited_by")
        .filter(public_id=public_id, user__isnull=True)
        .first()
    )
    if invitation is None or not invitation.digest:
        return None
    try:
        expected = _digest(secret, invitation.key_id)
    except UnknownKey:
        return None
    return invitation if hmac.compare_digest(expected, invitation.digest) else None


def for_user(user, public_id):
    """The invitation by name for `user` with this id, or None (someone else's too)."""
    return (
        Invitation.objects.select_related("organization__namespace")
        .filter(public_id=public_id, user=user)
        .first()
    )


def _lock_open(invitation):
    """Re-read the invitation under a lock; refuse one already answered or expired."""
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.status != Invitation.Status.PENDING:
        raise InvitationClosed(f"This invitation was already {locked.status}.")
    if locked.is_expired():
        raise InvitationClosed("This invitation has expired: ask for a new one.")
    return locked


def _answer(invitation, user, status):
    invitation.status = status
    invitation.answered_by = user
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_by", "answered_at"])


@transaction.atomic
def accept(invitation, user):
    """`user` joins the organization at the invitation's level; the membership.

    An invitation by name is `user`'s only when it names them (callers find
    it with `for_user`); an email invitation is whoever holds its link.
    """
    locked = _lock_open(invitation)
    if locked.user_id is not None and locked.user_id != user.pk:
        raise InvitationClosed("This invitation is for someone else.")
    if Membership.objects.filter(organization_id=locked.organization_id, user=user).exists():
        raise InvitationClosed("You are already a member of this organization.")
    _answer(locked, user, Invitation.Status.ACCEPTED)
    audit.record(
        "invitation.accept", obj=locked, name=locked.invitee, after={"username": user.username}
    )
    membership = services.add_member(locked.organization, user, locked.level)
    invitation.refresh_from_db()
    return membership


@transaction.atomic
def decline(invitation, user):
    locked = _lock_open(invitation)
    if locked.user_id is not None and locked.user_id != user.pk:
        raise InvitationClosed("This invitation is for someone else.")
    _answer(locked, user, Invitation.Status.DECLINED)
    audit.record("invitation.decline", obj=locked, name=locked.invitee)
    invitation.refresh_from_db()


@transaction.atomic
def revoke(invitation):
    """An admin withdraws a pending invitation; its link stops working."""
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.status != Invitation.Status.PENDING:
        raise InvitationClosed(f"This invitation was already {locked.status}.")
    locked.status = Invitation.Status.REVOKED
    locked.answered_at = timezone.now()
    locked.save(update_fields=["status", "answered_at"])
    audit.record("invitation.revoke", obj=locked, name=locked.invitee)
    invitation.refresh_from_db()


@transaction.atomic
def sign_up_and_accept(invitation, *, username, password, email=""):
    """Create the account an email invitation leads to, and accept it.

    The address the invitation went to is confirmed by the link itself.
    """
    _lock_open(invitation)
    user = services.create_user(
        username=username, password=password, email=invitation.email or email
    )
    accept(invitation, user)
    return user
