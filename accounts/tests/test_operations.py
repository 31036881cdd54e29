"""Operator-facing pieces: key rotation for token digests, issue_token, first admin."""

import stat
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import tokens
from accounts.bootstrap import create_first_admin
from accounts.models import Token, User
from accounts.tests.factories import UserFactory
from atlas.keys import key_ring, reset_key_ring, write_key_file
from conftest import api_client

pytestmark = pytest.mark.django_db


def _rotate(settings):
    write_key_file(settings.ATLAS_KEYS_FILE, key_ring().with_new_key())
    reset_key_ring()
    return key_ring()


def test_a_token_hashed_under_an_older_key_still_works_and_moves_to_the_new_key(settings):
    user = UserFactory()
    token, text = tokens.issue(user)
    old_key = token.key_id
    ring = _rotate(settings)
    assert ring.current != old_key
    assert api_client(text).get("/api/v1/authenticate").status_code == 200
    token.refresh_from_db()
    assert token.key_id == ring.current
    assert api_client(text).get("/api/v1/authenticate").status_code == 200


def test_a_token_whose_key_left_the_ring_is_refused(settings):
    user = UserFactory()
    _, text = tokens.issue(user)
    ring = key_ring()
    newer = ring.with_new_key()
    del newer.keys[ring.current]
    write_key_file(settings.ATLAS_KEYS_FILE, newer)
    reset_key_ring()
    assert api_client(text).get("/api/v1/authenticate").status_code == 401


def test_a_digest_depends_on_the_server_key(settings):
    user = UserFactory()
    token, text = tokens.issue(user)
    secret = text.split(".atlasv1.")[1]
    assert tokens.digest(secret, token.key_id) == token.digest
    ring = _rotate(settings)
    assert tokens.digest(secret, ring.current) != token.digest


def test_tokens_carry_a_checksum_that_catches_typos():
    text = "AbCdEfGhIjKlMnOp.atlasv1." + "x" * 43
    text += tokens.checksum(text)
    assert tokens.looks_like_token(text)
    assert not tokens.looks_like_token(text[:-1] + ("A" if text[-1] != "A" else "B"))
    assert not tokens.looks_like_token(text.replace("x", "y", 1))


def test_issue_token_prints_only_a_working_token():
    UserFactory(username="ops")
    out = StringIO()
    call_command("issue_token", "OPS", "--description", "backup", "--read-only", stdout=out)
    text = out.getvalue().strip()
    assert tokens.looks_like_token(text)
    token = Token.objects.get(user__username="ops")
    assert token.description == "backup" and token.read_only
    assert api_client(text).get("/api/v1/user").status_code == 200


def test_issue_token_refuses_unknown_users_and_bad_expiry():
    UserFactory(username="ops")
    with pytest.raises(CommandError):
        call_command("issue_token", "nobody")
    with pytest.raises(CommandError):
        call_command("issue_token", "ops", "--expires-in-days", "0")
    assert not Token.objects.exists()


def test_the_first_start_creates_one_admin_and_keeps_the_credentials_private(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    text = create_first_admin()
    assert "password" in text
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    path = tmp_path / "initial-admin.txt"
    assert path.read_text() == text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token_text = text.split("API token: ")[1].split()[0]
    assert api_client(token_text).get("/api/v1/user").json()["username"] == "admin"
    password = text.split("password:  ")[1].split()[0]
    assert admin.check_password(password)
    assert create_first_admin() is None
    assert User.objects.count() == 1


def test_usernames_are_case_insensitive_unique():
    UserFactory(username="Alice")
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(username="alice")
    assert User.objects.get(username__iexact="ALICE").namespace.name == "Alice"


def test_deleting_a_user_or_an_organization_frees_the_name(personas):
    from accounts.models import Namespace

    personas.outsider.user.delete()
    personas.org.delete()
    assert not Namespace.objects.filter(name__in=["outsider", "acme"]).exists()
    UserFactory(username="acme")
    assert Namespace.objects.get(name="acme").kind == "user"
