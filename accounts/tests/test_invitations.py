"""Invitations: nobody joins an organization without saying yes.

An owner invites a user by name or anyone by email; only the invited user
answers an invitation by name, once, before it expires; an email invitation
is a single-use link that leads to sign-up. A direct POST .../members of
another user is an invitation unless an operator makes it.
"""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts import invitations
from accounts.models import Invitation, MemberLevel, Membership, User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INVITE = "/api/v1/organizations/acme/invitations"


def invite(personas, **fields):
    return personas.admin.client.post(INVITE, {"invitation": fields}, format="json")


def test_an_owner_invites_a_user_by_name_who_then_sees_and_accepts_it(personas):
    response = invite(personas, username="outsider", level="write")
    assert response.status_code == 201
    body = response.json()["invitation"]
    assert body == {
        "id": body["id"],
        "organization": "acme",
        "username": "outsider",
        "email": None,
        "level": "write",
        "status": "pending",
        "invited_by": "admin",
        "created_at": body["created_at"],
        "expires_at": body["expires_at"],
    }
    assert not Membership.objects.filter(user=personas.outsider.user).exists()

    mine = personas.outsider.client.get("/api/v1/invitations").json()
    assert [i["id"] for i in mine["invitations"]] == [body["id"]]
    assert mine["meta"]["total"] == 1

    accepted = personas.outsider.client.post(f"/api/v1/invitations/{body['id']}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["invitation"]["status"] == "accepted"
    assert Membership.objects.get(user=personas.outsider.user).level == MemberLevel.WRITE
    assert personas.outsider.client.get("/api/v1/invitations").json()["invitations"] == []


def test_an_invitation_cannot_be_accepted_by_someone_else(personas):
    public_id = invite(personas, username="outsider").json()["invitation"]["id"]
    other = UserFactory(username="mallory")
    from accounts.tests.factories import token_for
    from conftest import api_client

    mallory = api_client(token_for(other))
    assert mallory.post(f"/api/v1/invitations/{public_id}/accept").status_code == 404
    assert mallory.post(f"/api/v1/invitations/{public_id}/decline").status_code == 404
    assert personas.admin.client.post(f"/api/v1/invitations/{public_id}/accept").status_code == 404
    assert not Membership.objects.filter(user=other).exists()
    assert Invitation.objects.get(public_id=public_id).status == "pending"


def test_an_invitation_cannot_be_accepted_twice(personas):
    public_id = invite(personas, username="outsider").json()["invitation"]["id"]
    client = personas.outsider.client
    assert client.post(f"/api/v1/invitations/{public_id}/accept").status_code == 200
    again = client.post(f"/api/v1/invitations/{public_id}/accept")
    assert again.status_code == 409
    assert again.json() == {"errors": {"base": ["This invitation was already accepted."]}}
    assert client.post(f"/api/v1/invitations/{public_id}/decline").status_code == 409
    assert Membership.objects.filter(user=personas.outsider.user).count() == 1


def test_an_invitation_cannot_be_accepted_after_it_expired(personas):
    public_id = invite(personas, username="outsider").json()["invitation"]["id"]
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = personas.outsider.client.post(f"/api/v1/invitations/{public_id}/accept")
    assert response.status_code == 409
    assert response.json() == {
        "errors": {"base": ["This invitation has expired: ask for a new one."]}
    }
    assert not Membership.objects.filter(user=personas.outsider.user).exists()
    assert personas.outsider.client.get("/api/v1/invitations").json()["invitations"] == []


def test_a_declined_invitation_leaves_the_user_out(personas):
    public_id = invite(personas, username="outsider").json()["invitation"]["id"]
    response = personas.outsider.client.post(f"/api/v1/invitations/{public_id}/decline")
    assert response.status_code == 200
    assert response.json()["invitation"]["status"] == "declined"
    assert not Membership.objects.filter(user=personas.outsider.user).exists()
    assert (
        personas.outsider.client.post(f"/api/v1/invitations/{public_id}/accept").status_code == 409
    )


def test_a_revoked_invitation_cannot_be_accepted(personas):
    public_id = invite(personas, username="outsider").json()["invitation"]["id"]
    assert personas.admin.client.delete(f"{INVITE}/{public_id}").status_code == 204
    assert (
        personas.outsider.client.post(f"/api/v1/invitations/{public_id}/accept").status_code == 409
    )


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"username": "ghost"}, {"username": ["no such user"]}),
        ({"username": "reader"}, {"username": ["is already a member"]}),
        ({"email": "not-an-address"}, {"email": ["Enter a valid email address."]}),
        ({}, {"base": ["send either a username or an email address"]}),
        (
            {"username": "outsider", "email": "x@example.com"},
            {"base": ["send either a username or an email address"]},
        ),
        ({"username": "outsider", "level": "owner"}, {"level": ['"owner" is not a valid choice.']}),
    ],
)
def test_bad_invitations_are_422s_naming_the_field(personas, fields, errors):
    response = invite(personas, **fields)
    assert response.status_code == 422
    assert response.json() == {"errors": errors}
    assert not Invitation.objects.exists()


def test_inviting_the_same_person_twice_is_refused(personas):
    assert invite(personas, username="outsider").status_code == 201
    response = invite(personas, username="OUTSIDER")
    assert response.status_code == 422
    assert response.json() == {"errors": {"username": ["has already been invited"]}}


@pytest.mark.parametrize(("role", "expected"), [("writer", 403), ("outsider", 404)])
def test_only_owners_invite(personas, role, expected):
    client = getattr(personas, role).client
    response = client.post(INVITE, {"invitation": {"username": "reader"}}, format="json")
    assert response.status_code == expected
    assert client.get(INVITE).status_code == expected


def test_a_direct_post_of_a_member_becomes_an_invitation(personas):
    response = personas.admin.client.post(
        "/api/v1/organizations/acme/members",
        {"membership": {"username": "outsider", "level": "admin"}},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["invitation"]["username"] == "outsider"
    assert response.json()["invitation"]["level"] == "admin"
    assert not Membership.objects.filter(user=personas.outsider.user).exists()


def test_an_operator_adds_a_member_directly(personas):
    personas.admin.user.is_staff = True
    personas.admin.user.save()
    response = personas.admin.client.post(
        "/api/v1/organizations/acme/members",
        "membership[username]=outsider&membership[level]=read",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201
    assert response.json() == {
        "membership": {
            "username": "outsider",
            "level": "read",
            "created_at": response.json()["membership"]["created_at"],
        }
    }
    assert not Invitation.objects.exists()


def test_an_invited_user_is_told_by_email(personas, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    personas.outsider.user.email = "outsider@example.com"
    personas.outsider.user.save()
    with django_capture_on_commit_callbacks(execute=True):
        invite(personas, username="outsider")
    assert [m.to for m in mail.outbox] == [["outsider@example.com"]]
    assert mail.outbox[0].subject == "admin invited you to acme"
    assert "http://testserver/invitations" in mail.outbox[0].body


def _link(message):
    return re.search(r"http://testserver(/invitations/\S+)", message.body).group(1)


@pytest.fixture
def email_invitation(personas, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(personas, email="newcomer@example.com", level="write")
    assert response.status_code == 201
    assert response.json()["invitation"]["email"] == "newcomer@example.com"
    [message] = mail.outbox
    assert message.to == ["newcomer@example.com"]
    return _link(message)


def test_an_email_invitation_leads_to_sign_up_once(email_invitation):
    client = Client()
    page = client.get(email_invitation)
    assert page.status_code == 200
    assert "Create your account" in page.content.decode()
    response = client.post(
        email_invitation,
        {
            "username": "newcomer",
            "password1": "a long new secret",
            "password2": "a long new secret",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/organizations/acme"
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.com"
    assert Membership.objects.get(user=user).level == MemberLevel.WRITE
    assert client.get("/organizations/acme").status_code == 200

    again = Client().post(
        email_invitation,
        {"username": "second", "password1": "a long new secret", "password2": "a long new secret"},
    )
    assert again.status_code == 410
    assert "This invitation was used already." in again.content.decode()
    assert not User.objects.filter(username="second").exists()


def test_an_email_invitation_link_with_a_wrong_secret_is_not_found(email_invitation):
    broken = email_invitation[:-3] + "xyz"
    assert Client().get(broken).status_code == 404


def test_an_expired_email_invitation_signs_nobody_up(email_invitation):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().post(
        email_invitation,
        {"username": "late", "password1": "a long new secret", "password2": "a long new secret"},
    )
    assert response.status_code == 410
    assert not User.objects.filter(username="late").exists()


def test_a_signed_in_person_accepts_an_email_invitation_with_their_account(
    email_invitation, personas
):
    client = Client()
    client.force_login(personas.outsider.user)
    assert "Accept as outsider" in client.get(email_invitation).content.decode()
    response = client.post(email_invitation, {"answer": "accept"})
    assert response.status_code == 302
    assert Membership.objects.get(user=personas.outsider.user).level == MemberLevel.WRITE


def test_sign_up_through_an_invitation_follows_the_naming_and_password_rules(email_invitation):
    response = Client().post(
        email_invitation, {"username": "admin", "password1": "short", "password2": "short"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Username has already been taken." in page
    assert Invitation.objects.get().status == "pending"


def test_the_web_invitations_page_accepts_and_declines(personas):
    first = invitations.invite(personas.org, personas.admin.user, username="outsider")
    client = Client()
    client.force_login(personas.outsider.user)
    assert "acme" in client.get("/invitations").content.decode()
    assert "1 invitation" in client.get("/").content.decode()
    response = client.post(f"/invitations/{first.public_id}/accept")
    assert response.status_code == 302
    assert Membership.objects.filter(user=personas.outsider.user).exists()
    stranger = Client()
    stranger.force_login(personas.reader.user)
    assert stranger.post(f"/invitations/{first.public_id}/decline").status_code == 404


def test_open_sign_up_is_off_by_default_and_an_operator_turns_it_on(settings, db):
    assert Client().get("/signup").status_code == 404
    assert "Create an account" not in Client().get("/login").content.decode()
    settings.ATLAS_OPEN_SIGNUP = True
    client = Client()
    assert "Create an account" in client.get("/login").content.decode()
    response = client.post(
        "/signup",
        {
            "username": "walkin",
            "email": "walkin@example.com",
            "password1": "a long new secret",
            "password2": "a long new secret",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="walkin").email == "walkin@example.com"
    assert client.get("/").status_code == 200
