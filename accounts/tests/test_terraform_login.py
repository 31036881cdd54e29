"""`terraform login`'s endpoints: the consent page and the PKCE token exchange."""

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from accounts.decorators import SUDO_SESSION_KEY
from accounts.models import LoginCode, Organization, Token
from accounts.tests.factories import PASSWORD

VERIFIER = "a" * 64
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)
REDIRECT = "http://localhost:10000/login"
PARAMS = {
    "client_id": "terraform-cli",
    "response_type": "code",
    "code_challenge": CHALLENGE,
    "code_challenge_method": "S256",
    "redirect_uri": REDIRECT,
    "state": "xyz",
}


@pytest.fixture
def browser(personas):
    """The writer, signed in a moment ago (the password is fresh)."""
    client = Client()
    client.force_login(personas.writer.user)
    session = client.session
    session[SUDO_SESSION_KEY] = int(time.time())
    session.save()
    return client


def approve(browser, **override):
    return browser.post("/terraform-login/authorize", {**PARAMS, **override, "decision": "approve"})


def exchange(code, verifier=VERIFIER, **override):
    data = {
        "grant_type": "authorization_code",
        "client_id": "terraform-cli",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT,
        **override,
    }
    return Client().post("/terraform-login/token", data)


def code_of(response):
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def test_the_consent_page_names_the_host_and_asks(browser):
    response = browser.get("/terraform-login/authorize", PARAMS)
    assert response.status_code == 200
    assert b"Terraform CLI on testserver asks for a token" in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_approving_gives_a_code_that_buys_exactly_one_ordinary_token(browser, personas):
    code = code_of(approve(browser))
    response = exchange(code)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    token = Token.objects.get(public_id=body["access_token"].split(".atlasv1.")[0])
    assert (token.user, token.kind, token.read_only) == (personas.writer.user, "user", False)
    assert token.description.startswith("terraform login")
    assert exchange(code).json()["error"] == "invalid_grant"  # single use


def test_a_wrong_verifier_or_redirect_gets_no_token(browser):
    assert exchange(code_of(approve(browser)), verifier="b" * 64).json()["error"] == "invalid_grant"
    other = exchange(code_of(approve(browser)), redirect_uri="http://localhost:10001/login")
    assert other.status_code == 400
    assert not Token.objects.filter(description__startswith="terraform login").exists()


def test_denying_tells_terraform_and_creates_nothing(browser):
    response = browser.post("/terraform-login/authorize", {**PARAMS, "decision": "deny"})
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["access_denied"]
    assert not LoginCode.objects.exists()


@pytest.mark.parametrize(
    "override",
    [
        {"redirect_uri": "https://evil.example/login"},
        {"redirect_uri": "http://localhost:9999/login"},
        {"client_id": "someone"},
        {"code_challenge_method": "plain"},
        {"response_type": "token"},
    ],
)
def test_requests_other_than_terraform_s_own_are_refused(browser, override):
    response = approve(browser, **override)
    assert response.status_code == 400
    assert not LoginCode.objects.exists()


def test_without_a_session_the_page_asks_to_sign_in_and_come_back(db):
    response = Client().get("/terraform-login/authorize", PARAMS)
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=/terraform-login/authorize%3F")


def test_an_expired_code_buys_nothing(browser):
    code = code_of(approve(browser))
    from django.utils import timezone

    LoginCode.objects.update(expires_at=timezone.now())
    assert exchange(code).json()["error"] == "invalid_grant"


def test_an_old_sign_in_gives_the_password_again_before_a_code_is_issued(personas):
    client = Client()
    client.force_login(personas.writer.user)
    asked = approve(client)
    assert asked.status_code == 200
    assert "Confirm your password" in asked.content.decode()
    assert not LoginCode.objects.exists()
    carried = {**PARAMS, "decision": "approve", "sudo_password": PASSWORD}
    response = client.post("/terraform-login/authorize", carried)
    assert exchange(code_of(response)).status_code == 200


def test_a_member_who_must_set_up_two_factor_gets_no_code(browser, personas):
    Organization.objects.filter(pk=personas.org.pk).update(require_two_factor=True)
    response = approve(browser)
    assert response.status_code == 403
    assert "requires two-factor sign-in" in response.content.decode()
    assert not LoginCode.objects.exists()
