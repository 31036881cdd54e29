"""`tokens.authenticate`, the lookup every API request makes: one query, and
every way a token is refused, through the SQL compiled once per process."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts import tokens
from accounts.models import Token
from accounts.tests.factories import UserFactory, run_token_for, token_for
from conftest import api_client
from states.tests.factories import environment, state_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory(username="holder")


def _token(text):
    return Token.objects.get(public_id=text.split(".")[0])


def test_a_valid_token_is_found_with_its_user_and_namespace_in_one_query(
    user, django_assert_num_queries
):
    text = token_for(user, description="ci")
    tokens.authenticate(text)  # records last use (at most once a minute)
    with django_assert_num_queries(1):
        token = tokens.authenticate(text)
        # Everything a request reads next is loaded: no query behind these.
        assert token.user.username == "holder"
        assert token.user.namespace.name == "holder"
        assert token.user.is_active is True
    assert token.pk == _token(text).pk
    assert token.description == "ci"
    assert token.read_only is False
    assert token.kind == Token.Kind.USER
    assert token.last_used_at is not None and token.last_used_at.tzinfo is not None
    assert tokens._compiled_lookup(connection) is not None  # the compiled path, not the ORM's


def test_the_compiled_lookup_reads_what_the_orm_reads(user):
    text = token_for(user, read_only=True, expires_at=timezone.now() + timedelta(days=1))
    found = tokens.find_token(text.split(".")[0])
    expected = Token.objects.select_related("user__namespace").get(pk=found.pk)
    for model_found, model_expected in (
        (found, expected),
        (found.user, expected.user),
        (found.user.namespace, expected.user.namespace),
    ):
        for field in type(model_expected)._meta.concrete_fields:
            assert getattr(model_found, field.attname) == getattr(model_expected, field.attname)
    assert found.expires_at == expected.expires_at and found.read_only is True


def test_an_unknown_public_id_is_refused_in_one_query(user, django_assert_num_queries):
    body = f"{'Q' * tokens.PUBLIC_ID_LENGTH}{tokens.MARKER}{'A' * tokens.RANDOM_LENGTH}"
    with django_assert_num_queries(1):
        assert tokens.authenticate(body + tokens.checksum(body)) is None


@pytest.mark.parametrize(
    "text", ["", "garbage", "abc.atlasv1.def", "x" * 16 + ".atlasv1." + "y" * 49, "é" * 300]
)
def test_a_malformed_token_is_refused_without_a_query(text, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert tokens.authenticate(text) is None


def _checksummed(public_id, secret):
    body = f"{public_id}{tokens.MARKER}{secret}"
    return body + tokens.checksum(body)


@pytest.mark.parametrize(
    "text",
    [
        _checksummed("\u0661" * 16, "A" * 43),  # Arabic-Indic digits, \d would take them
        _checksummed("Q" * 16, "\uff21" * 43),  # fullwidth letters
        _checksummed("Q" * 16, "A" * 43) + "\n",
        _checksummed("Q" * 16, "A" * 42 + "-"),
        _checksummed("Q" * 15, "A" * 44),
    ],
)
def test_a_token_outside_the_alphabet_or_its_lengths_is_refused_without_a_query(
    text, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert tokens.parse(text) is None
        assert tokens.authenticate(text) is None


def test_a_wrong_secret_with_a_valid_checksum_is_refused(user):
    text = token_for(user)
    body = f"{text.split('.')[0]}{tokens.MARKER}{'A' * tokens.RANDOM_LENGTH}"
    assert tokens.authenticate(body + tokens.checksum(body)) is None


def test_a_revoked_token_is_refused(user):
    text = token_for(user)
    assert tokens.revoke(_token(text))
    assert tokens.authenticate(text) is None


def test_an_expired_token_is_refused_from_its_expiry_on(user):
    expiry = timezone.now() + timedelta(hours=1)
    text = token_for(user, expires_at=expiry)
    assert tokens.authenticate(text, now=expiry - timedelta(seconds=1)) is not None
    assert tokens.authenticate(text, now=expiry) is None


def test_the_token_of_an_inactive_user_is_refused(user):
    text = token_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert tokens.authenticate(text) is None


def test_a_digest_under_an_unknown_key_is_refused(user):
    text = token_for(user)
    Token.objects.filter(public_id=text.split(".")[0]).update(key_id="gone")
    assert tokens.authenticate(text) is None


def test_last_use_is_written_once_a_minute(user, django_assert_num_queries):
    text = token_for(user)
    now = timezone.now()
    with django_assert_num_queries(2):  # the lookup, the first use recorded
        tokens.authenticate(text, now=now)
    with django_assert_num_queries(1):
        tokens.authenticate(text, now=now + timedelta(seconds=59))
    assert _token(text).last_used_at == now
    with django_assert_num_queries(2):
        tokens.authenticate(text, now=now + timedelta(minutes=1))
    assert _token(text).last_used_at == now + timedelta(minutes=1)


def test_the_lookup_is_compiled_once_per_database(user):
    token_for(user)
    tokens._compiled.clear()
    tokens.find_token("unknown")
    assert list(tokens._compiled) == [(connection.alias, connection.vendor)]
    sql, _converters = tokens._compiled[(connection.alias, connection.vendor)]
    assert tokens._PUBLIC_ID_STAND_IN not in sql  # a parameter, never inlined


def test_a_read_only_token_may_read_but_not_write_a_state(personas, django_assert_num_queries):
    environment("acme", "network")
    url = "/api/v1/terraform/state/acme/network"
    body = state_bytes(serial=1)
    assert personas.writer.client.put(url, body, content_type="application/json").status_code == 200
    client = api_client(token_for(personas.writer.user, read_only=True))
    assert client.get(url).status_code == 200
    response = client.put(url, state_bytes(serial=2), content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"errors": {"base": ["This token is read-only."]}}


def test_a_run_token_writes_its_own_state_only(personas):
    own = environment("acme", "network")
    environment("acme", "other")
    client = api_client(run_token_for(personas.writer.user, own))
    put = {"content_type": "application/json"}
    own_url, other_url = (
        "/api/v1/terraform/state/acme/network",
        "/api/v1/terraform/state/acme/other",
    )
    assert client.put(own_url, state_bytes(serial=1), **put).status_code == 200
    assert client.put(other_url, state_bytes(serial=1), **put).status_code == 404
    # Nothing but the state doors: elsewhere a run token is a stranger.
    assert client.get("/api/v1/tokens").status_code == 404
