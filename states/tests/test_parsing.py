"""Reading serial and lineage from a body without building it (states.parsing)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from states.parsing import InvalidState, check_utf8, parse_state, serial_span

from .factories import LINEAGE, state_bytes, state_doc_v4


def test_it_reads_serial_and_lineage_of_a_terraform_011_state():
    header = parse_state(state_bytes(serial=42, outputs={"ip": "10.0.0.1"}))
    assert (header.serial, header.lineage) == (42, LINEAGE)


def test_it_reads_a_terraform_012_state():
    body = json.dumps(state_doc_v4(serial=7)).encode()
    assert parse_state(body).serial == 7


def test_the_serial_span_points_at_the_serial_digits():
    body = state_bytes(serial=1234)
    start, end = serial_span(body)
    assert body[start:end] == b"1234"


def test_a_state_without_lineage_has_an_empty_lineage():
    assert parse_state(b'{"serial": 1}').lineage == ""
    assert parse_state(b'{"serial": 1, "lineage": null}').lineage == ""


def test_escaped_keys_mean_what_they_say():
    assert parse_state(b'{"ser\\u0069al": 3}').serial == 3


def test_the_last_of_duplicate_keys_wins_as_in_json_loads():
    assert parse_state(b'{"serial": 1, "serial": 2}').serial == 2
    with pytest.raises(InvalidState, match="integer"):
        parse_state(b'{"serial": 1, "serial": {"nested": 2}}')


def test_serial_and_lineage_inside_nested_objects_are_not_the_state_s():
    with pytest.raises(InvalidState, match='no "serial"'):
        parse_state(b'{"modules": [{"serial": 1}], "x": {"serial": 2}}')


def test_it_accepts_a_bytearray():
    assert parse_state(bytearray(state_bytes(serial=3))).serial == 3


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"not json",
        b"[1, 2]",
        b'"serial"',
        b'{"serial": 1',
        b'{"serial": 1,}',
        b'{"serial": 1} trailing',
        b'{"serial": 1, "x": [1, 2,]}',
        b'{"serial": 1, "x": NaN}',
        b'{"serial": 1, "x": Infinity}',
        b"{'serial': 1}",
        b'{"serial": 01}',
        b'{"serial": 1, "x": "tab\tinside"}',
        b'{"serial": 1, "x": "\\q"}',
        b'\xef\xbb\xbf{"serial": 1}',
    ],
)
def test_it_refuses_what_is_not_a_json_object(body):
    with pytest.raises(InvalidState):
        parse_state(body)


@pytest.mark.parametrize(
    "value",
    [b'"1"', b"1.0", b"1e3", b"true", b"null", b"[1]", b"-1", b"9223372036854775808"],
)
def test_it_refuses_a_serial_that_is_not_a_non_negative_64_bit_integer(value):
    with pytest.raises(InvalidState, match="serial"):
        parse_state(b'{"serial": ' + value + b"}")


def test_the_largest_serial_is_accepted():
    assert parse_state(b'{"serial": 9223372036854775807}').serial == 2**63 - 1


@pytest.mark.parametrize("value", [b"1", b"[]", b"{}", b"true"])
def test_it_refuses_a_lineage_that_is_not_a_string(value):
    with pytest.raises(InvalidState, match="lineage"):
        parse_state(b'{"serial": 1, "lineage": ' + value + b"}")


def test_it_refuses_an_overlong_lineage():
    with pytest.raises(InvalidState, match="lineage"):
        parse_state(json.dumps({"serial": 1, "lineage": "x" * 129}).encode())


def test_it_refuses_invalid_utf8_anywhere():
    with pytest.raises(InvalidState, match="UTF-8"):
        parse_state(b'{"serial": 1, "x": "\xff"}')
    with pytest.raises(InvalidState, match="UTF-8"):
        check_utf8(b"\xc3")  # cut in the middle of a character


def test_non_ascii_text_is_fine():
    assert parse_state('{"serial": 2, "tag": "prod — 東京 🚀"}'.encode()).serial == 2


def test_it_bounds_the_nesting_depth_without_recursing():
    deep = b'{"serial": 1, "x": ' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}"
    with pytest.raises(InvalidState, match="deeper"):
        parse_state(deep)
    fine = b'{"serial": 1, "x": ' + b"[" * 100 + b"]" * 100 + b"}"
    assert parse_state(fine).serial == 1


# Property tests: the walker agrees with json.loads on what is valid JSON.

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30,
)


# Generating nested JSON takes long on a busy machine; no other check is off.
SLOW_MACHINE = [HealthCheck.too_slow]


@settings(max_examples=400, suppress_health_check=SLOW_MACHINE)
@given(value=values, indent=st.sampled_from([None, 0, 2, 4]), ascii_only=st.booleans())
def test_any_valid_state_is_accepted_with_its_serial(value, indent, ascii_only):
    body = json.dumps(
        {"serial": 3, "lineage": "l", "value": value, "serial_": value},
        indent=indent,
        ensure_ascii=ascii_only,
    ).encode()
    header = parse_state(body)
    assert (header.serial, header.lineage) == (3, "l")


def _json_loads_accepts(body):
    """json.loads' verdict, except that escapes of lone UTF-16 surrogates
    (which Python accepts and Go replaces) are refused: no Terraform writes
    them, and they decode to no valid text."""
    try:
        document = json.loads(body.decode("utf-8"))
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return False
    return isinstance(document, dict)


@settings(max_examples=1500, suppress_health_check=SLOW_MACHINE)
@given(value=values, data=st.data())
def test_a_damaged_body_is_refused_exactly_when_json_loads_refuses_it(value, data):
    body = bytearray(json.dumps({"serial": 1, "value": value}).encode())
    alphabet = b'{}[],:"\\ 0123-.eEtrufalsn\x00\x7f\xc3\xa9'
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body)))
        operation = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        if operation == "delete" and at < len(body):
            del body[at]
        elif operation == "insert":
            body[at:at] = bytes([data.draw(st.sampled_from(alphabet))])
        elif at < len(body):
            body[at] = data.draw(st.sampled_from(alphabet))
    expected = _json_loads_accepts(bytes(body))
    try:
        parse_state(bytes(body))
        accepted = True
    except InvalidState as exc:
        accepted = "serial" in str(exc) and expected  # valid JSON, but the serial got damaged
    assert accepted == expected
