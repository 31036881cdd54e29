"""Two-factor sign-in: enrolment, signing in with a code or a recovery code,
/admin/, sudo mode, token creation, and organizations that require it."""

import re
import time
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client

from accounts import twofactor
from accounts.decorators import SUDO_SESSION_KEY
from accounts.models import AuditEvent, Organization, Token
from accounts.tests.factories import PASSWORD, UserFactory, enrol, token_for, totp_code
from accounts.twofactor.models import RecoveryCode, RecoveryCodeDevice, TotpDevice
from conftest import api_client
from environments.tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db


def a_moment_later(user):
    """Let the time that a wrong code makes the next try wait pass."""
    for model in (TotpDevice, RecoveryCodeDevice):
        model.objects.filter(user=user, throttling_failure_timestamp__isnull=False).update(
            throttling_failure_timestamp=F("throttling_failure_timestamp") - timedelta(hours=1)
        )


def password_step(client, username, next_url=""):
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/login", data)


def test_a_person_enrols_with_a_code_from_their_app_and_gets_ten_recovery_codes(db):
    ada = UserFactory(username="ada")
    client = Client()
    client.force_login(ada)
    session = client.session
    session[SUDO_SESSION_KEY] = int(time.time())
    session.save()

    assert client.post("/settings/two-factor/start").status_code == 302
    device = TotpDevice.objects.get(user=ada, confirmed=False)
    page = client.get("/settings/two-factor").content.decode()
    assert 'src="/settings/two-factor/qr.svg"' in page
    assert device.base32_secret[:4] in page
    assert "<script" not in page.split("<main")[1].split("</main>")[0]

    qr = client.get("/settings/two-factor/qr.svg")
    assert qr["Content-Type"] == "image/svg+xml"
    assert qr.content.startswith(b"<svg") and b"<script" not in qr.content
    assert "no-store" in qr["Cache-Control"]

    wrong = client.post("/settings/two-factor/confirm", {"code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    assert not twofactor.is_enabled(ada)

    a_moment_later(ada)
    device.refresh_from_db()
    response = client.post("/settings/two-factor/confirm", {"code": totp_code(device)})
    page = response.content.decode()
    assert twofactor.is_enabled(ada)
    codes = re.findall(r"<li>([0-9a-f]{5}-[0-9a-f]{5})</li>", page)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert RecoveryCode.objects.filter(device__user=ada).count() == 10
    assert not any(c in str(RecoveryCode.objects.values_list("digest", flat=True)) for c in codes)
    assert AuditEvent.objects.filter(action="user.two_factor_enable", actor=ada).count() == 1


def test_the_totp_secret_is_sealed_at_rest(db):
    device, _codes = enrol(UserFactory())
    row = TotpDevice.objects.filter(pk=device.pk).values_list("secret_sealed", flat=True).get()
    assert row.startswith("v1:")
    assert device.base32_secret not in row and device.secret.hex() not in row


def test_signing_in_asks_for_a_code_after_the_password(db):
    ada = UserFactory(username="ada")
    device, _codes = enrol(ada)
    client = Client()
    response = password_step(client, "ada", next_url="/settings/tokens")
    assert response.status_code == 302
    assert response["Location"] == "/login/code?next=%2Fsettings%2Ftokens"
    assert client.get("/").status_code == 302  # not signed in yet

    wrong = client.post("/login/code", {"code": "123456", "next": "/settings/tokens"})
    assert "That code is not right" in wrong.content.decode()
    assert client.get("/").status_code == 302

    a_moment_later(ada)
    response = client.post("/login/code", {"code": totp_code(device), "next": "/settings/tokens"})
    assert response.status_code == 302
    assert response["Location"] == "/settings/tokens"
    assert client.get("/").status_code == 200
    events = AuditEvent.objects.filter(actor=ada).order_by("id")
    assert list(events.values_list("action", "after")) == [
        ("user.two_factor_enable", None),
        ("user.sign_in_failed", {"door": "web", "step": "code"}),
        ("user.sign_in", {"door": "web", "second_factor": "authenticator app"}),
    ]


def test_a_code_works_only_once(db):
    ada = UserFactory(username="ada")
    device, _codes = enrol(ada)
    code = totp_code(device)
    first = Client()
    password_step(first, "ada")
    assert first.post("/login/code", {"code": code})["Location"] == "/"
    second = Client()
    password_step(second, "ada")
    replay = second.post("/login/code", {"code": code})
    assert replay.status_code == 200
    assert "That code is not right" in replay.content.decode()


def test_wrong_codes_make_the_next_try_wait(db):
    ada = UserFactory(username="ada")
    device, _codes = enrol(ada)
    client = Client()
    password_step(client, "ada")
    client.post("/login/code", {"code": "000000"})
    refused = client.post("/login/code", {"code": totp_code(device)})
    assert "That code is not right" in refused.content.decode()
    assert client.get("/").status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # the second try was not even checked


def test_a_recovery_code_signs_in_once_and_then_stops_working(db):
    ada = UserFactory(username="ada")
    _device, codes = enrol(ada)
    client = Client()
    password_step(client, "ada")
    response = client.post("/login/code", {"code": codes[0].upper()}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "You used a recovery code; 9 left." in response.content.decode()

    again = Client()
    password_step(again, "ada")
    refused = again.post("/login/code", {"code": codes[0]})
    assert refused.status_code == 200
    assert again.get("/").status_code == 302
    assert RecoveryCode.objects.filter(device__user=ada).count() == 9


def test_the_code_step_expires(db, settings):
    ada = UserFactory(username="ada")
    device, _codes = enrol(ada)
    settings.ATLAS_SIGN_IN_CODE_SECONDS = 1
    client = Client()
    password_step(client, "ada")
    session = client.session
    session["atlas_sign_in_pending"]["at"] -= 5
    session.save()
    response = client.post("/login/code", {"code": totp_code(device)})
    assert response["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_admin_signs_in_through_the_same_two_steps(db):
    operator = UserFactory(username="op", is_staff=True, is_superuser=True)
    device, _codes = enrol(operator)
    client = Client()
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/admin/login/?next=/admin/"
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "op", "password": PASSWORD, "next": "/admin/"},
    )
    assert response["Location"] == "/login/code?next=%2Fadmin%2F"
    assert client.get("/admin/").status_code == 302  # not yet
    response = client.post("/login/code", {"code": totp_code(device), "next": "/admin/"})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_an_operator_without_two_factor_signs_in_to_admin_with_the_password(db):
    UserFactory(username="op", is_staff=True, is_superuser=True)
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "op", "password": PASSWORD, "next": "/admin/"}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_refuses_a_session_that_skipped_the_second_factor(db):
    operator = UserFactory(username="op", is_staff=True, is_superuser=True)
    enrol(operator)
    client = Client()
    client.force_login(operator)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert client.get("/admin/accounts/auditevent/").status_code == 302


def test_sudo_mode_asks_for_the_code_too(db, settings):
    settings.ATLAS_SUDO_SECONDS = 0
    ada = UserFactory(username="ada")
    device, _codes = enrol(ada)
    client = Client()
    password_step(client, "ada")
    client.post("/login/code", {"code": totp_code(device)})
    asked = client.post("/settings/tokens/new", {"description": "ci"})
    assert 'name="sudo_code"' in asked.content.decode()
    wrong = client.post(
        "/settings/tokens/new",
        {"description": "ci", "sudo_password": PASSWORD, "sudo_code": "000000"},
    )
    assert "That password or code is not right." in wrong.content.decode()
    assert not Token.objects.filter(description="ci").exists()
    a_moment_later(ada)
    response = client.post(
        "/settings/tokens/new",
        {"description": "ci", "sudo_password": PASSWORD, "sudo_code": totp_code(device, 1)},
    )
    assert "Your new token" in response.content.decode()
    assert Token.objects.filter(user=ada, description="ci").exists()


def test_the_api_asks_for_a_code_before_it_creates_a_token(db):
    ada = UserFactory(username="ada")
    device, codes = enrol(ada)
    anonymous = api_client()
    login = {"user": {"login": "ada", "password": PASSWORD}}
    missing = anonymous.post("/api/v1/authenticate", login, format="json")
    assert missing.status_code == 401
    assert missing.json() == {
        "errors": {"otp": ["Enter a code from your authenticator app or a recovery code."]}
    }
    login["user"]["otp"] = totp_code(device)
    assert anonymous.post("/api/v1/authenticate", login, format="json").status_code == 201

    client = api_client(token_for(ada))
    refused = client.post("/api/v1/tokens", {"token": {"description": "ci"}}, format="json")
    assert refused.status_code == 403
    assert set(refused.json()["errors"]) == {"otp"}
    made = client.post(
        "/api/v1/tokens", {"token": {"description": "ci", "otp": codes[1]}}, format="json"
    )
    assert made.status_code == 201
    assert "otp" not in made.json()["token"]


@pytest.fixture
def strict(personas):
    """acme requires two-factor sign-in; its admin has it, the reader does not."""
    device, _codes = enrol(personas.admin.user)
    Organization.objects.filter(pk=personas.org.pk).update(require_two_factor=True)
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    return device


def test_an_owner_requires_two_factor_only_with_it_themselves(personas):
    client = Client()
    client.force_login(personas.admin.user)
    response = client.post(
        "/organizations/acme/settings", {"require_two_factor": "on"}, follow=True
    )
    assert "Set up two-factor sign-in for yourself first." in response.content.decode()
    assert not Organization.objects.get(pk=personas.org.pk).require_two_factor
    enrol(personas.admin.user)
    api = personas.admin.client.patch(
        "/api/v1/organizations/acme",
        {"organization": {"require_two_factor": True}},
        format="json",
    )
    assert api.status_code == 200
    assert api.json()["organization"]["require_two_factor"] is True
    assert AuditEvent.objects.filter(action="organization.update").count() == 1


def test_a_required_two_factor_organization_is_closed_in_the_web_ui_to_a_member_without_it(
    personas, strict
):
    client = Client()
    client.force_login(personas.reader.user)
    dashboard = client.get("/").content.decode()
    assert "2FA required" in dashboard
    for url in ("/organizations/acme", "/environments/acme/app", "/organizations/acme/teams"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Two-factor sign-in required" in response.content.decode()
        assert 'href="/settings/two-factor"' in response.content.decode()
    # The API tokens keep working; new tokens wait for two-factor sign-in.
    assert personas.reader.client.get("/api/v1/environments/acme/app").status_code == 200
    refused = personas.reader.client.post("/api/v1/tokens", {"token": {}}, format="json")
    assert refused.status_code == 403
    assert "requires two-factor sign-in" in refused.json()["errors"]["otp"][0]
    session = client.session
    session[SUDO_SESSION_KEY] = int(time.time())
    session.save()
    page = client.post("/settings/tokens/new", {"description": "x"}).content.decode()
    assert "requires two-factor sign-in" in page
    assert not Token.objects.filter(description="x").exists()


def test_a_member_opens_the_organization_by_setting_up_two_factor(personas, strict):
    device, _codes = enrol(personas.reader.user)
    client = Client()
    password_step(client, "reader")
    client.post("/login/code", {"code": totp_code(device)})
    assert client.get("/organizations/acme").status_code == 200
    assert client.get("/environments/acme/app").status_code == 200


def test_an_owner_with_two_factor_keeps_the_organization_open(personas, strict):
    client = Client()
    password_step(client, "admin")
    client.post("/login/code", {"code": totp_code(strict)})
    assert client.get("/organizations/acme").status_code == 200


def test_wrong_codes_count_in_the_failure_throttle(db, settings):
    settings.ATLAS_AUTH_FAILURE_LIMIT = 3
    ada = UserFactory(username="ada")
    device, _codes = enrol(ada)
    client = Client()
    password_step(client, "ada")
    for _ in range(3):
        a_moment_later(ada)
        assert client.post("/login/code", {"code": "000000"}).status_code == 200
    a_moment_later(ada)
    refused = client.post("/login/code", {"code": totp_code(device)})
    assert refused.status_code == 429
    assert client.get("/").status_code == 302
