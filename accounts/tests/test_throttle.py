"""The failure throttle: per (address, account or token id), never against a
valid token, shared by the API, the web sign-in, sudo mode and /admin/login/."""

import ipaddress
import time
import uuid

import pytest
import redis
from django.test import Client

from accounts import tokens
from accounts.models import AuthFailureCount, Token
from accounts.tests.factories import PASSWORD, UserFactory, token_for
from conftest import api_client

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/0"
WRONG = {"user": {"login": "ada", "password": "wrong"}}
RIGHT = {"user": {"login": "ada", "password": PASSWORD}}


@pytest.fixture(autouse=True)
def limit(settings):
    settings.ATLAS_AUTH_FAILURE_LIMIT = 5
    settings.ATLAS_AUTH_FAILURE_WINDOW = 300
    return 5


def sign_in_api(body, address="192.0.2.1", **extra):
    return api_client().post(
        "/api/v1/authenticate", body, format="json", REMOTE_ADDR=address, **extra
    )


def get_user(token, address="192.0.2.1", **extra):
    return api_client(token).get("/api/v1/user", REMOTE_ADDR=address, **extra)


def expire_every_window():
    AuthFailureCount.objects.update(expires_at=time.time() - 1)


# Tokens


def test_a_valid_token_is_answered_200_after_120_failures_from_its_address():
    ada = UserFactory(username="ada")
    text = token_for(ada)
    forged = f"{text.split('.')[0]}.atlasv1.{'A' * 43}"
    same_id_wrong_secret = forged + tokens.checksum(forged)  # well-formed, wrong
    failures = ["nope", "", same_id_wrong_secret, token_for(UserFactory(username="bob"))[:-1]]
    statuses = [get_user(failures[i % 4]).status_code for i in range(120)]
    assert set(statuses[:4]) == {401}
    assert statuses[-1] == 429

    response = get_user(text)

    assert response.status_code == 200
    assert response.json()["username"] == "ada"


def test_failed_tokens_are_429_past_the_limit_with_retry_after(limit):
    statuses = [get_user("nope").status_code for _ in range(limit + 2)]
    assert statuses == [401] * limit + [429, 429]
    response = get_user("nope")
    assert 0 < int(response["Retry-After"]) <= 300
    assert list(response.json()["errors"]) == ["base"]
    # Another address is not affected.
    assert get_user("nope", address="192.0.2.2").status_code == 401


def test_a_revoked_token_counts_against_its_own_id(limit):
    ada = UserFactory(username="ada")
    text = token_for(ada)
    Token.objects.update(revoked_at="2026-01-01T00:00:00Z")
    statuses = [get_user(text).status_code for _ in range(limit + 1)]
    assert statuses == [401] * limit + [429]
    # Malformed tokens from the same address are another count.
    assert get_user("nope").status_code == 401


# Passwords


def test_a_throttled_login_is_refused_before_the_password_is_checked(limit):
    UserFactory(username="ada")
    statuses = [sign_in_api(WRONG).status_code for _ in range(limit + 1)]
    assert statuses == [401] * limit + [429]
    assert sign_in_api(RIGHT).status_code == 429
    assert not Token.objects.exists()


def test_failures_for_one_account_never_refuse_another(limit):
    UserFactory(username="ada")
    UserFactory(username="bob")
    for _ in range(limit * 3):
        sign_in_api(WRONG)
    response = sign_in_api({"user": {"login": "bob", "password": PASSWORD}})
    assert response.status_code == 201


def test_failures_from_one_address_never_refuse_the_account_elsewhere(limit):
    UserFactory(username="ada")
    for _ in range(limit * 3):
        sign_in_api(WRONG, address="198.51.100.7")
    assert sign_in_api(RIGHT, address="192.0.2.1").status_code == 201


def test_logins_differing_only_in_case_share_a_count(limit):
    UserFactory(username="ada")
    for login in ["ADA", "Ada", "ada", "aDa", "adA"]:
        sign_in_api({"user": {"login": login, "password": "wrong"}})
    assert sign_in_api(RIGHT).status_code == 429


def test_the_window_ending_lets_the_account_in_again(limit):
    UserFactory(username="ada")
    for _ in range(limit):
        sign_in_api(WRONG)
    assert sign_in_api(RIGHT).status_code == 429
    expire_every_window()
    assert sign_in_api(RIGHT).status_code == 201


def test_a_success_clears_the_count(limit):
    UserFactory(username="ada")
    for _ in range(limit - 1):
        sign_in_api(WRONG)
    assert sign_in_api(RIGHT).status_code == 201
    assert not AuthFailureCount.objects.exists()
    for _ in range(limit - 1):
        assert sign_in_api(WRONG).status_code == 401


def test_expired_counts_are_removed_as_new_failures_come_in(limit):
    UserFactory(username="ada")
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        sign_in_api(WRONG, address=address)
    expire_every_window()
    sign_in_api(WRONG, address="192.0.2.4")
    assert list(AuthFailureCount.objects.values_list("failures", flat=True)) == [1]


def test_nothing_about_the_address_or_account_is_stored_in_clear():
    UserFactory(username="ada")
    sign_in_api(WRONG, address="203.0.113.99")
    (row,) = AuthFailureCount.objects.all()
    assert "203.0.113" not in row.digest and "ada" not in row.digest
    assert len(row.digest) == 64


# Behind a proxy


def test_forwarded_for_from_an_untrusted_peer_is_ignored(limit):
    UserFactory(username="ada")
    for index in range(limit):
        sign_in_api(WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{index}")
    # Every attempt counted against the peer itself, whatever it claimed.
    assert sign_in_api(RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.200").status_code == 429


def test_clients_behind_a_trusted_proxy_are_counted_apart(settings, limit):
    settings.ATLAS_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    UserFactory(username="ada")
    for _ in range(limit):
        sign_in_api(WRONG, address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    blocked = sign_in_api(RIGHT, address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert blocked.status_code == 429
    # Another client behind the same proxy; the client's own claim to the left is ignored.
    other = sign_in_api(
        RIGHT, address="10.0.0.3", HTTP_X_FORWARDED_FOR="198.51.100.7, 198.51.100.8, 10.0.0.9"
    )
    assert other.status_code == 201


# The web sign-in, sudo mode and the admin


def test_the_web_sign_in_and_the_api_share_the_count(limit):
    UserFactory(username="ada")
    client = Client(REMOTE_ADDR="192.0.2.1")
    for _ in range(limit):
        assert client.post("/login", {"username": "ada", "password": "x"}).status_code == 200
    response = client.post("/login", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert sign_in_api(RIGHT).status_code == 429
    # Someone else signs in from the same address.
    UserFactory(username="bob")
    assert client.post("/login", {"username": "bob", "password": PASSWORD}).status_code == 302


def test_admin_login_is_refused_after_repeated_failures(limit):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    UserFactory(username="other", is_staff=True)
    client = Client(REMOTE_ADDR="192.0.2.1")
    for _ in range(limit):
        response = client.post("/admin/login/", {"username": "root", "password": "guess"})
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()

    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 300
    assert "Too many attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    response = client.post("/admin/login/", {"username": "other", "password": PASSWORD})
    assert response.status_code == 302


def test_a_non_staff_password_on_the_admin_is_refused_but_not_counted(limit):
    UserFactory(username="ada")
    client = Client()
    for _ in range(limit + 1):
        response = client.post("/admin/login/", {"username": "ada", "password": PASSWORD})
        assert response.status_code == 200
    assert not AuthFailureCount.objects.exists()


# Redis


@pytest.fixture
def redis_store(settings):
    prefix = f"atlas-test-{uuid.uuid4().hex}:"
    settings.ATLAS_REDIS_URL = REDIS_URL
    settings.ATLAS_REDIS_KEY_PREFIX = prefix
    client = redis.Redis.from_url(REDIS_URL)
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


def test_redis_holds_the_counts_when_configured(redis_store, limit):
    client, prefix = redis_store
    ada = UserFactory(username="ada")
    text = token_for(ada)
    statuses = [sign_in_api(WRONG).status_code for _ in range(limit + 1)]
    assert statuses == [401] * limit + [429]
    (key,) = client.scan_iter(f"{prefix}auth-failures:*")
    assert int(client.get(key)) == limit
    assert 0 < client.ttl(key) <= 300
    assert not AuthFailureCount.objects.exists()
    # A valid token is still let in; bob is still let in.
    assert get_user(text).status_code == 200
    UserFactory(username="bob")
    assert sign_in_api({"user": {"login": "bob", "password": PASSWORD}}).status_code == 201
    # The window ends when the key expires.
    client.delete(key)
    assert sign_in_api(RIGHT).status_code == 201


def test_an_unreachable_redis_lets_sign_ins_through(settings, limit):
    settings.ATLAS_REDIS_URL = "redis://127.0.0.1:1/0"
    UserFactory(username="ada")
    assert [sign_in_api(WRONG).status_code for _ in range(limit + 1)] == [401] * (limit + 1)
    assert sign_in_api(RIGHT).status_code == 201
