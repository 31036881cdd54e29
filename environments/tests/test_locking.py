"""The one lock's rule: while someone holds it, only the holder writes."""

import pytest

from accounts.models import Token
from environments import locking, services
from environments.models import LockKind
from states.tests.factories import environment


@pytest.fixture
def network(personas):
    return environment("acme", "network")


def refusal(network, **writer):
    network.refresh_from_db()
    return locking.write_refusal(network, **writer)


def run_token(user, network, scoped=True):
    from accounts import tokens

    token, _text = tokens.issue(user, kind=Token.Kind.RUN)
    if scoped:
        Token.objects.filter(pk=token.pk).update(scope_environment_id=network.pk)
        token.refresh_from_db()
    return token


def test_an_unlocked_environment_takes_writes_without_an_id_only(personas, network):
    assert refusal(network, user=personas.writer.user) is None
    assert "not locked" in refusal(network, user=personas.writer.user, lock_id="x")


def test_an_http_lock_lets_through_only_writes_carrying_its_id(personas, network):
    services.lock_environment(
        network,
        personas.writer.user,
        "",
        kind=LockKind.HTTP,
        lock_id="abc",
        client="Terraform 1.6.6",
    )
    assert refusal(network, user=personas.writer.user, lock_id="abc", door="http") is None
    message = refusal(network, user=personas.writer.user, door="atlas")
    assert "locked by writer through Terraform's http backend (Terraform 1.6.6)" in message
    assert "lock ID 'abc'" in message
    assert refusal(network, user=personas.admin.user, lock_id="zzz", door="http")


def test_a_tfe_lock_lets_through_its_holder_s_tfe_writes(personas, network):
    services.lock_environment(
        network,
        personas.writer.user,
        "Locked by Terraform",
        kind=LockKind.TFE,
        lock_id="acme/network",
    )
    assert refusal(network, user=personas.writer.user, door="tfe") is None
    assert refusal(network, user=personas.writer.user, door="atlas")
    assert refusal(network, user=personas.admin.user, door="tfe")


def test_a_run_s_hold_lets_through_its_own_run_token_only(personas, network):
    from django.utils import timezone

    from environments.models import Environment

    Environment.objects.filter(pk=network.pk).update(
        **{**locking.RELEASED, "locked": True, "lock_kind": LockKind.RUN,
           "lock_reason": "Held by run #7", "lock_id": "run-7", "locked_at": timezone.now()}
    )  # fmt: skip
    own = run_token(personas.writer.user, network)
    other = run_token(personas.writer.user, network, scoped=False)
    earlier = run_token(personas.writer.user, network)
    Token.objects.filter(pk=own.pk).update(scope_run_id=7)
    Token.objects.filter(pk=earlier.pk).update(scope_run_id=6)
    own.refresh_from_db()
    earlier.refresh_from_db()
    assert refusal(network, user=personas.writer.user, token=own) is None
    assert refusal(network, user=personas.writer.user, token=earlier)
    assert "locked by a run (Held by run #7)" in refusal(
        network, user=personas.writer.user, token=other
    )
    assert refusal(network, user=personas.writer.user)


def test_a_lock_taken_by_hand_lets_its_holder_write(personas, network):
    services.lock_environment(network, personas.admin.user, "maintenance")
    assert refusal(network, user=personas.admin.user) is None
    assert "(maintenance)" in refusal(network, user=personas.writer.user)


def test_the_holder_as_lock_info_for_every_kind_parses_as_terraform_s(personas, network):
    services.lock_environment(network, personas.admin.user, "maintenance")
    network.refresh_from_db()
    info = locking.lock_info(network)
    assert list(info) == list(locking.LOCK_INFO_KEYS)
    assert info["Created"].endswith("Z")
    assert info["Who"] == "admin"


def test_unlocking_someone_else_s_lock_needs_force(personas, network):
    services.lock_environment(network, personas.writer.user, "", kind=LockKind.HTTP, lock_id="a")
    with pytest.raises(services.LockError):
        services.unlock_environment(network, personas.admin.user)
    with pytest.raises(services.LockError):
        services.unlock_environment(network, personas.writer.user, lock_id="other")
    services.unlock_environment(network, personas.admin.user, force=True)
    network.refresh_from_db()
    assert (network.locked, network.lock_kind, network.lock_id) == (False, "", "")


def test_knowing_the_lock_id_does_not_make_someone_else_the_holder(personas, network):
    services.lock_environment(network, personas.writer.user, "", kind=LockKind.HTTP, lock_id="a")
    network.refresh_from_db()
    assert locking.holds(network, personas.writer.user, "a")
    assert locking.holds(network, personas.writer.user)
    assert not locking.holds(network, personas.admin.user, "a")
