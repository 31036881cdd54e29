"""The conflict rule on its own (states.rules.decide)."""

import pytest

from states.rules import Head, Incoming, Outcome, decide

HEAD = Head(serial=5, lineage="L", md5="m5", sha256="s5")


def incoming(serial=6, lineage="L", md5="m6", sha256="s6"):
    return Incoming(serial, lineage, md5, sha256)


def test_it_accepts_the_first_state_of_an_environment():
    assert decide(None, incoming(serial=1)).outcome is Outcome.ACCEPTED


def test_it_accepts_serial_zero_as_a_first_state():
    assert decide(None, incoming(serial=0)).outcome is Outcome.ACCEPTED


def test_identical_bytes_are_unchanged_whatever_the_serial_says():
    same = incoming(serial=5, md5="m5", sha256="s5")
    assert decide(HEAD, same, max_serial=5).outcome is Outcome.UNCHANGED


def test_a_higher_serial_becomes_the_head():
    decision = decide(HEAD, incoming(serial=6), max_serial=5)
    assert decision.outcome is Outcome.ACCEPTED and decision.stores


def test_a_much_higher_serial_becomes_the_head():
    assert decide(HEAD, incoming(serial=500), max_serial=5).stores


def test_an_equal_serial_with_other_bytes_conflicts():
    decision = decide(HEAD, incoming(serial=5), max_serial=5)
    assert decision.outcome is Outcome.CONFLICT
    assert "already stored" in decision.reason


def test_a_lower_serial_conflicts():
    decision = decide(HEAD, incoming(serial=4), max_serial=5)
    assert decision.outcome is Outcome.CONFLICT
    assert "lower" in decision.reason


def test_a_different_lineage_conflicts_even_with_a_higher_serial():
    decision = decide(HEAD, incoming(serial=9, lineage="other"), max_serial=5)
    assert decision.outcome is Outcome.CONFLICT
    assert "lineage" in decision.reason


@pytest.mark.parametrize(("head_lineage", "new_lineage"), [("", "L"), ("L", ""), ("", "")])
def test_a_missing_lineage_on_either_side_is_not_a_conflict(head_lineage, new_lineage):
    head = Head(5, head_lineage, "m5", "s5")
    assert decide(head, incoming(serial=6, lineage=new_lineage), max_serial=5).stores


def test_the_same_md5_with_other_content_is_not_taken_for_the_same_bytes():
    collision = incoming(serial=5, md5="m5", sha256="different")
    assert decide(HEAD, collision, max_serial=5).outcome is Outcome.CONFLICT


def test_without_a_head_any_lineage_is_accepted_above_the_highest_serial():
    decision = decide(None, incoming(serial=8, lineage="new"), max_serial=7)
    assert decision.stores


@pytest.mark.parametrize("serial", [1, 7])
def test_without_a_head_a_serial_already_used_conflicts(serial):
    decision = decide(None, incoming(serial=serial), max_serial=7)
    assert decision.outcome is Outcome.SERIAL_USED
    assert decision.refused and not decision.stores
    assert "above 7" in decision.reason
