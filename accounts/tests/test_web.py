"""The people-facing pages: sign-in, dashboard, tokens, organizations, members, admin."""

import time
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.decorators import SUDO_SESSION_KEY
from accounts.models import Invitation, Level, Membership, Organization, Token
from accounts.tests.factories import PASSWORD, UserFactory, member, organization, token_for
from conftest import api_client

pytestmark = pytest.mark.django_db


def signed_in(user, *, recent=True, client=None):
    """A client signed in as `user`; `recent` says whether the password was just typed."""
    client = client or Client()
    client.force_login(user)
    if recent:
        session = client.session
        session[SUDO_SESSION_KEY] = int(time.time())
        session.save()
    return client


def content(response):
    return response.content.decode()


def new_token_text(response):
    """The token text shown on the new-token page."""
    marker = 'id="new-token" class="mono" type="text" value="'
    page = content(response)
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


# Sign-in and sign-out


def test_signing_in_rotates_the_session_key():
    user = UserFactory(username="ada")
    client = Client()
    session = client.session
    session["before"] = True
    session.save()
    before = session.session_key

    response = client.post("/login", {"username": "ada", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert client.session["_auth_user_id"] == str(user.pk)
    assert not client.session.exists(before)


def test_signing_in_is_case_insensitive_and_counts_as_a_recent_password():
    UserFactory(username="ada")
    client = Client()
    client.post("/login", {"username": "ADA", "password": PASSWORD})
    assert client.session[SUDO_SESSION_KEY] >= int(time.time()) - 5


def test_a_wrong_password_is_refused_on_the_form():
    UserFactory(username="ada")
    client = Client()
    response = client.post("/login", {"username": "ada", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "correct username and password" in content(response)


def test_failed_sign_ins_hit_the_same_throttle_as_the_api(settings):
    settings.ATLAS_AUTH_FAILURE_LIMIT = 2
    UserFactory(username="ada")
    client = Client()
    for _ in range(2):
        assert client.post("/login", {"username": "ada", "password": "x"}).status_code == 200

    response = client.post("/login", {"username": "ada", "password": PASSWORD})

    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.ATLAS_AUTH_FAILURE_WINDOW)
    assert "Too many attempts" in content(response)
    assert "_auth_user_id" not in client.session
    # The API shares the count.
    response = api_client().post(
        "/api/v1/authenticate", {"user": {"login": "ada", "password": PASSWORD}}, format="json"
    )
    assert response.status_code == 429


def test_signing_out_needs_a_post():
    client = signed_in(UserFactory())
    response = client.get("/logout")
    assert (response.status_code, response["Location"]) == (302, "/")
    assert "_auth_user_id" in client.session
    response = client.post("/logout")
    assert response.status_code == 302
    assert response["Location"] == "/login"
    assert "_auth_user_id" not in client.session


# Dashboard


def test_the_dashboard_requires_sign_in():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/"


def test_the_dashboard_shows_namespaces_with_levels_and_active_tokens(personas):
    Token.objects.filter(user=personas.reader.user).update(revoked_at=timezone.now())
    token_for(personas.reader.user, description="second")
    client = signed_in(personas.reader.user)

    response = client.get("/")

    assert response.status_code == 200
    page = content(response)
    assert "/environments?namespace=reader" in page
    assert "/environments?namespace=acme" in page
    assert '<span class="badge badge-level-read">read</span>' in page
    assert response.context["active_tokens"] == 1
    assert [n["name"] for n in response.context["namespaces"]] == ["reader", "acme"]
    assert "X-Atlas-Token: $ATLAS_TOKEN" in page


def test_the_nav_links_admin_only_for_staff(personas):
    assert "/admin/" not in content(signed_in(personas.reader.user).get("/"))
    staff = UserFactory(is_staff=True)
    assert "/admin/" in content(signed_in(staff).get("/"))


# Tokens


def test_the_token_page_lists_only_own_user_tokens(personas):
    token_for(personas.writer.user, description="writer laptop")
    token_for(personas.writer.user, description="a run token", kind=Token.Kind.RUN)
    client = signed_in(personas.writer.user)

    response = client.get("/settings/tokens")

    assert response.status_code == 200
    listed = {token.description for token in response.context["tokens"]}
    assert listed == {"writer token", "writer laptop"}
    page = content(response)
    assert "reader token" not in page
    assert Token.objects.get(description="reader token").public_id not in page


def test_generating_asks_for_the_password_again_when_the_sign_in_is_old(personas):
    client = signed_in(personas.writer.user, recent=False)
    before = Token.objects.count()

    response = client.post("/settings/tokens/new", {"description": "ci"})

    assert response.status_code == 200
    assert "Confirm your password" in content(response)
    assert '<input type="hidden" name="description" value="ci">' in content(response)
    assert Token.objects.count() == before

    response = client.post("/settings/tokens/new", {"description": "ci", "sudo_password": "no"})
    assert response.status_code == 200
    assert "That password is not right" in content(response)
    assert Token.objects.count() == before

    response = client.post("/settings/tokens/new", {"description": "ci", "sudo_password": PASSWORD})
    assert response.status_code == 200
    assert "Your new token" in content(response)
    assert Token.objects.filter(user=personas.writer.user, description="ci").count() == 1

    # Confirmed now: the next one goes straight through, its page uncompressed
    # (a secret next to text the user chose: see atlas/web.py).
    response = client.post(
        "/settings/tokens/new", {"description": "ci 2"}, HTTP_ACCEPT_ENCODING="gzip"
    )
    assert "Your new token" in content(response)
    assert "Content-Encoding" not in response and "no-store" in response["Cache-Control"]
    assert Token.objects.filter(user=personas.writer.user, description="ci 2").exists()


def test_a_password_confirmed_too_long_ago_is_asked_again(personas, settings):
    client = signed_in(personas.writer.user, recent=False)
    session = client.session
    session[SUDO_SESSION_KEY] = int(time.time()) - settings.ATLAS_SUDO_SECONDS - 1
    session.save()
    response = client.post("/settings/tokens/new", {"description": "ci"})
    assert "Confirm your password" in content(response)
    assert not Token.objects.filter(description="ci").exists()


def test_wrong_confirmation_passwords_count_toward_the_throttle(personas, settings):
    settings.ATLAS_AUTH_FAILURE_LIMIT = 1
    client = signed_in(personas.writer.user, recent=False)
    client.post("/settings/tokens/new", {"sudo_password": "no"})
    response = client.post("/settings/tokens/new", {"sudo_password": PASSWORD})
    assert response.status_code == 429
    assert (
        not Token.objects.filter(user=personas.writer.user)
        .exclude(description="writer token")
        .exists()
    )


def test_generating_right_after_signing_in_needs_no_password_again():
    user = UserFactory(username="ada")
    client = Client()
    client.post("/login", {"username": "ada", "password": PASSWORD})
    response = client.post("/settings/tokens/new", {"description": "laptop"})
    assert response.status_code == 200
    assert "Your new token" in content(response)
    assert Token.objects.filter(user=user, description="laptop").exists()


def test_a_new_token_is_shown_once_uncached_and_works_against_the_api(personas):
    client = signed_in(personas.writer.user)

    response = client.post("/settings/tokens/new", {"description": "laptop", "read_only": "on"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = new_token_text(response)
    token = Token.objects.get(user=personas.writer.user, description="laptop")
    assert text.startswith(f"{token.public_id}.atlasv1.")
    assert token.read_only is True
    assert token.expires_at is None
    assert text not in client.session.values()
    check = api_client(text).get("/api/v1/authenticate")
    assert check.status_code == 200
    assert check.json() == {"username": "writer"}

    listing = client.get("/settings/tokens")
    assert token.public_id in content(listing)
    assert text not in content(listing)
    assert text.partition(".atlasv1.")[2] not in content(listing)


def test_an_expiry_in_the_past_is_refused(personas):
    client = signed_in(personas.writer.user)
    yesterday = date.today() - timedelta(days=1)

    response = client.post("/settings/tokens/new", {"description": "old", "expires_on": yesterday})

    assert response.status_code == 200
    assert "The expiry date must be in the future." in content(response)
    assert not Token.objects.filter(description="old").exists()


def test_an_expiry_date_is_stored_as_the_start_of_that_day(personas):
    client = signed_in(personas.writer.user)
    day = date.today() + timedelta(days=30)

    response = client.post("/settings/tokens/new", {"description": "soon", "expires_on": day})

    assert response.status_code == 200
    token = Token.objects.get(description="soon")
    assert token.expires_at.date() == day
    assert (token.expires_at.hour, token.expires_at.minute) == (0, 0)


def test_revoking_a_token_takes_a_post(personas):
    client = signed_in(personas.writer.user)
    token = Token.objects.get(user=personas.writer.user)
    url = f"/settings/tokens/{token.public_id}/revoke"

    response = client.get(url)
    assert (response.status_code, response["Location"]) == (302, "/settings/tokens")
    token.refresh_from_db()
    assert token.revoked_at is None

    response = client.post(url, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [("/settings/tokens", 302)]
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in content(response)
    assert personas.writer.client.get("/api/v1/authenticate").status_code == 401


def test_another_users_token_cannot_be_revoked(personas):
    client = signed_in(personas.writer.user)
    theirs = Token.objects.get(user=personas.reader.user)
    response = client.post(f"/settings/tokens/{theirs.public_id}/revoke")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_csrf_is_enforced_on_the_token_page(personas):
    client = signed_in(personas.writer.user, client=Client(enforce_csrf_checks=True))
    token = Token.objects.get(user=personas.writer.user)

    assert client.post("/settings/tokens/new", {"description": "x"}).status_code == 403
    assert client.post(f"/settings/tokens/{token.public_id}/revoke").status_code == 403
    assert not Token.objects.filter(description="x").exists()
    token.refresh_from_db()
    assert token.revoked_at is None

    client.get("/settings/tokens")
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(
        "/settings/tokens/new", {"description": "x", "csrfmiddlewaretoken": csrf}
    )
    assert response.status_code == 200
    assert Token.objects.filter(description="x").exists()


# Organizations


def test_creating_an_organization_makes_the_creator_its_admin(personas):
    client = signed_in(personas.outsider.user)

    response = client.post("/settings/organizations/new", {"name": "globex"})

    assert response.status_code == 302
    assert response["Location"] == "/organizations/globex"
    organization = Organization.objects.get(namespace__name="globex")
    assert organization.memberships.get().level == Level.ADMIN
    page = content(client.get("/settings/organizations"))
    assert "globex" in page


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("ACME", "Name has already been taken."),
        ("writer", "Name has already been taken."),
        (".hidden", "Name is invalid"),
        ("", "This field is required."),
    ],
)
def test_organization_name_errors_are_shown_on_the_form(personas, name, error):
    client = signed_in(personas.outsider.user)
    before = Organization.objects.count()

    response = client.post("/settings/organizations/new", {"name": name})

    assert response.status_code == 200
    assert error in content(response)
    assert Organization.objects.count() == before


def test_the_organizations_page_lists_mine_with_my_level(personas):
    response = signed_in(personas.writer.user).get("/settings/organizations")
    assert response.status_code == 200
    assert [(m.organization.name, m.level) for m in response.context["memberships"]] == [
        ("acme", Level.WRITE)
    ]


# Members


def test_an_admin_invites_a_user_who_is_not_a_member_until_they_accept(personas):
    client = signed_in(personas.admin.user)
    newcomer = UserFactory(username="newcomer")

    response = client.post(
        "/organizations/acme/members", {"invitee": "NEWCOMER", "level": "read"}, follow=True
    )

    assert response.status_code == 200
    assert "Invitation sent to newcomer." in content(response)
    assert not Membership.objects.filter(user=newcomer).exists()
    invitation = Invitation.objects.get(organization=personas.org)
    assert (invitation.user, invitation.level, invitation.status) == (newcomer, "read", "pending")


def test_an_operator_adds_a_user_at_once(personas):
    personas.admin.user.is_staff = True
    personas.admin.user.save()
    newcomer = UserFactory(username="newcomer")

    response = signed_in(personas.admin.user).post(
        "/organizations/acme/members", {"invitee": "newcomer", "level": "write"}, follow=True
    )

    assert "newcomer added with write access." in content(response)
    assert Membership.objects.get(organization=personas.org, user=newcomer).level == Level.WRITE
    assert not Invitation.objects.exists()


def test_inviting_an_unknown_user_or_a_member_again_is_refused_on_the_form(personas):
    client = signed_in(personas.admin.user)
    before = Membership.objects.count()

    response = client.post("/organizations/acme/members", {"invitee": "ghost", "level": "read"})
    assert response.status_code == 200
    assert "No such user." in content(response)

    response = client.post("/organizations/acme/members", {"invitee": "reader", "level": "read"})
    assert response.status_code == 200
    assert "Is already a member." in content(response)
    assert Membership.objects.count() == before
    assert not Invitation.objects.exists()


def test_an_admin_changes_a_members_level(personas):
    client = signed_in(personas.admin.user)

    response = client.post("/organizations/acme/members/reader/level", {"level": "write"})

    assert response.status_code == 302
    assert response["Location"] == "/organizations/acme"
    membership = Membership.objects.get(organization=personas.org, user=personas.reader.user)
    assert membership.level == Level.WRITE


def test_the_last_admin_cannot_be_demoted(personas):
    client = signed_in(personas.admin.user)

    response = client.post(
        "/organizations/acme/members/admin/level", {"level": "read"}, follow=True
    )

    assert response.status_code == 200
    assert "The last admin of an organization cannot be demoted." in content(response)
    membership = Membership.objects.get(organization=personas.org, user=personas.admin.user)
    assert membership.level == Level.ADMIN


def test_the_last_admin_cannot_be_removed(personas):
    client = signed_in(personas.admin.user)
    response = client.post("/organizations/acme/members/admin/remove", follow=True)
    assert response.status_code == 200
    assert "The last admin of an organization cannot be removed." in content(response)
    assert Membership.objects.filter(organization=personas.org, user=personas.admin.user).exists()


def test_an_admin_removes_a_member(personas):
    client = signed_in(personas.admin.user)
    response = client.post("/organizations/acme/members/writer/remove")
    assert response.status_code == 302
    assert not Membership.objects.filter(user=personas.writer.user).exists()


def test_the_members_page_shows_admins_the_forms_and_others_a_list(personas):
    admin_page = content(signed_in(personas.admin.user).get("/organizations/acme"))
    assert 'action="/organizations/acme/members"' in admin_page
    assert 'action="/organizations/acme/members/reader/remove"' in admin_page
    assert 'action="/organizations/acme/settings"' in admin_page

    response = signed_in(personas.reader.user).get("/organizations/acme")
    assert response.status_code == 200
    page = content(response)
    assert "writer" in page
    assert "/members/reader/remove" not in page
    assert 'action="/organizations/acme/members"' not in page


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", "/organizations/acme", {}),
        ("post", "/organizations/acme/members", {"invitee": "outsider", "level": "admin"}),
        ("post", "/organizations/acme/members/reader/level", {"level": "admin"}),
        ("post", "/organizations/acme/members/reader/remove", {}),
    ],
)
def test_an_outsider_gets_404(personas, method, url, data):
    client = signed_in(personas.outsider.user)
    response = getattr(client, method)(url, data)
    assert response.status_code == 404
    assert not Membership.objects.filter(user=personas.outsider.user).exists()
    assert Membership.objects.get(user=personas.reader.user).level == Level.READ


def test_a_user_namespace_is_not_an_organization_page(personas):
    assert signed_in(personas.writer.user).get("/organizations/writer").status_code == 404


@pytest.mark.parametrize("role", ["reader", "writer"])
@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/organizations/acme/members", {"username": "outsider", "level": "admin"}),
        ("/organizations/acme/members/reader/level", {"level": "admin"}),
        ("/organizations/acme/members/admin/remove", {}),
    ],
)
def test_members_who_are_not_admins_get_403_on_changes(personas, role, url, data):
    client = signed_in(getattr(personas, role).user)
    response = client.post(url, data)
    assert response.status_code == 403
    assert not Membership.objects.filter(user=personas.outsider.user).exists()
    assert Membership.objects.get(user=personas.reader.user).level == Level.READ
    assert Membership.objects.filter(user=personas.admin.user).exists()


# Admin


@pytest.fixture
def operator():
    return signed_in(UserFactory(username="operator", is_staff=True, is_superuser=True))


def test_the_admin_action_revokes_the_selected_tokens(personas, operator):
    chosen = list(Token.objects.filter(user__in=[personas.reader.user, personas.writer.user]))
    kept = Token.objects.get(user=personas.admin.user)

    response = operator.post(
        "/admin/accounts/token/",
        {"action": "revoke_tokens", "_selected_action": [t.pk for t in chosen]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Revoked 2 tokens." in content(response)
    assert all(t.revoked_at for t in Token.objects.filter(pk__in=[t.pk for t in chosen]))
    kept.refresh_from_db()
    assert kept.revoked_at is None
    assert personas.reader.client.get("/api/v1/authenticate").status_code == 401
    assert personas.admin.client.get("/api/v1/authenticate").status_code == 200


def test_the_token_admin_never_shows_digests_and_cannot_add(personas, operator):
    token = Token.objects.get(user=personas.reader.user)
    listing = operator.get("/admin/accounts/token/?q=reader")
    detail = operator.get(f"/admin/accounts/token/{token.pk}/change/")
    assert listing.status_code == detail.status_code == 200
    for response in (listing, detail):
        assert token.digest not in content(response)
        assert token.key_id not in content(response)
    assert token.public_id in content(listing)
    assert operator.get("/admin/accounts/token/add/").status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        "/admin/accounts/organization/",
        "/admin/accounts/organization/add/",
        "/admin/accounts/membership/?level__exact=admin",
        "/admin/accounts/namespace/",
        "/admin/accounts/token/?kind__exact=user&revoked=no",
    ],
)
def test_the_admin_pages_render(personas, operator, url):
    assert operator.get(url).status_code == 200


def test_the_admin_refuses_a_username_an_organization_holds(operator):
    response = operator.post(
        "/admin/accounts/user/add/",
        {"username": "acme-free", "usable_password": "false"},
    )
    assert response.status_code == 302
    response = operator.post(
        "/admin/accounts/organization/add/",
        {
            "name": "acme-free",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "has already been taken" in content(response)
    assert not Organization.objects.exists()


def test_the_admin_creates_an_organization_with_an_admin_and_keeps_one(personas, operator):
    response = operator.post(
        "/admin/accounts/organization/add/",
        {
            "name": "initech",
            "email": "",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": personas.reader.user.pk,
            "memberships-0-level": "admin",
        },
    )
    assert response.status_code == 302
    initech = Organization.objects.get(namespace__name="initech")
    membership = initech.memberships.get()
    assert (membership.user, membership.level) == (personas.reader.user, Level.ADMIN)

    response = operator.post(
        f"/admin/accounts/organization/{initech.pk}/change/",
        {
            "email": "",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": membership.pk,
            "memberships-0-organization": initech.pk,
            "memberships-0-user": personas.reader.user.pk,
            "memberships-0-level": "read",
        },
    )
    assert response.status_code == 200
    assert "An organization needs at least one admin." in content(response)
    membership.refresh_from_db()
    assert membership.level == Level.ADMIN


@pytest.mark.parametrize(
    ("url", "add_more"),
    [
        ("/settings/tokens", lambda p: [token_for(p.admin.user) for _ in range(5)]),
        (
            "/settings/organizations",
            lambda p: [organization(f"org{i}", p.admin.user) for i in range(5)],
        ),
        ("/organizations/acme", lambda p: [member(p.org, UserFactory()) for _ in range(5)]),
        ("/", lambda p: [organization(f"org{i}", p.admin.user) for i in range(5)]),
    ],
)
def test_list_pages_cost_the_same_queries_for_more_rows(personas, url, add_more):
    client = signed_in(personas.admin.user)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_more(personas)
    with CaptureQueriesContext(connection) as more:
        assert client.get(url).status_code == 200
    assert len(more) == len(few)
