"""Reading `serial` and `lineage` from a state body, and checking it is JSON.

State bodies reach 100 MB. `json.loads` of a 70 MB state allocates about
240 MB of Python objects, so the body is checked where it lies, as bytes:
msgspec's C decoder validates the whole document (UTF-8 and RFC 8259 JSON,
so no NaN or Infinity) while it decodes only the two top-level fields we
need into a small struct and skips everything else without building it.
The last of duplicate keys wins, as in Python's and Go's decoders.

A rollback rewrites the serial and keeps every other byte, so it needs to
know where the serial's digits sit: `serial_span` finds them with a walker
over the (already validated) bytes. Regular expressions (possessive, so they
never backtrack) swallow whole runs of scalars and of shallow containers in
C, so the Python loop only turns for the few deeper containers.
"""

import codecs
import json
import re
from dataclasses import dataclass
from typing import Annotated

import msgspec

from atlas.text import HOSTILE_TEXT_MESSAGE, is_clean_text

MAX_DEPTH = 512
MAX_SERIAL = 2**63 - 1
MAX_LINEAGE = 128
UTF8_PIECE = 64 * 1024

_WS = rb"[ \t\n\r]*+"
# A string, in the "unrolled loop" form: plain runs, then escapes each followed by a run.
_STRING = rb'"[^"\\\x00-\x1f]*+(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*+)*+"'
_NUMBER = rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_SCALAR = rb"(?>" + _STRING + rb"|" + _NUMBER + rb"|true|false|null)"


def _container(value):
    """An object or array whose every value matches `value`."""
    member = _STRING + _WS + rb":" + _WS + value
    return (
        rb"(?>\{" + _WS + rb"(?:" + member + _WS + rb"(?:," + _WS + member + _WS + rb")*+)?+\}"
        rb"|\[" + _WS + rb"(?:" + value + _WS + rb"(?:," + _WS + value + _WS + rb")*+)?+\])"
    )


# Containers of scalars, and containers of those or of scalars.
_SHALLOW = _container(rb"(?>" + _container(_SCALAR) + rb"|" + _SCALAR + rb")")
_ELEMENT = rb"(?>" + _SHALLOW + rb"|" + _SCALAR + rb")"

_ws = re.compile(_WS).match
_string = re.compile(_STRING).match
_scalar = re.compile(_SCALAR).match
_shallow = re.compile(_SHALLOW).match
# Runs of complete elements followed by a comma: what the walker skips in C.
_array_run = re.compile(rb"(?:" + _ELEMENT + _WS + rb"," + _WS + rb")*+").match
_object_run = re.compile(
    rb"(?:" + _STRING + _WS + rb":" + _WS + _ELEMENT + _WS + rb"," + _WS + rb")*+"
).match

LBRACE, RBRACE, LBRACKET, RBRACKET = b"{}[]"
COMMA, COLON = b",:"
_CLOSE = {LBRACE: RBRACE, LBRACKET: RBRACKET}
_WANTED = ("serial", "lineage")


class InvalidState(ValueError):
    """The body is not a state this server can store (a 400 for the client)."""


@dataclass(frozen=True)
class StateHeader:
    serial: int
    lineage: str
    terraform_version: str = ""


class _Header(msgspec.Struct):
    """The two top-level fields the rules need; msgspec skips the rest."""

    serial: Annotated[int, msgspec.Meta(ge=0, le=MAX_SERIAL)]
    lineage: Annotated[str, msgspec.Meta(max_length=MAX_LINEAGE)] | None = None
    # Kept raw: any JSON is accepted here, only a string is shown.
    terraform_version: msgspec.Raw = msgspec.Raw()


_decode_header = msgspec.json.Decoder(_Header).decode


def parse_state(body):
    """The serial and lineage of a state body, after checking it is valid JSON.

    `body` is bytes, a bytearray or a memoryview. Raises InvalidState.
    """
    if not bytes(body[:64]).strip() and not bytes(body).strip():
        raise InvalidState("The body is empty: a state is a JSON object.")
    # msgspec checks the UTF-8 of what it decodes, not of the values it skips.
    check_utf8(body)
    try:
        header = _decode_header(body)
    except RecursionError:
        raise InvalidState("The state nests deeper than the server allows.") from None
    except msgspec.ValidationError as exc:
        raise InvalidState(_validation_message(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise InvalidState(_decode_message(str(exc))) from None
    if header.lineage and not is_clean_text(header.lineage):
        raise InvalidState(f'"lineage" {HOSTILE_TEXT_MESSAGE}.')
    return StateHeader(
        serial=header.serial,
        lineage=header.lineage or "",
        terraform_version=_version_text(header.terraform_version),
    )


def _version_text(raw):
    """The `terraform_version` as text when it is a short plain string, else ""."""
    if len(raw) > 66 or not bytes(raw).startswith(b'"'):
        return ""
    try:
        value = json.loads(bytes(raw))
    except ValueError:
        return ""
    return value if isinstance(value, str) and value.isprintable() else ""


def _validation_message(detail):
    if "missing required field `serial`" in detail:
        return 'The state has no "serial".'
    if "`$.serial`" in detail:
        if "Expected `int`" in detail:
            return '"serial" must be an integer.'
        return f'"serial" must be between 0 and {MAX_SERIAL}.'
    if "`$.lineage`" in detail:
        if "Expected `str" in detail:
            return '"lineage" must be a string.'
        return f'"lineage" must be at most {MAX_LINEAGE} characters.'
    if "Expected `object`" in detail:
        return "The state must be a JSON object."
    return f"The state is not valid: {detail}."


def _decode_message(detail):
    if detail.startswith("Input data was truncated"):
        return "The body is not valid JSON: it ends too early."
    return f"The body is not valid JSON: {detail}."


def serial_span(body):
    """Where the top-level serial's digits sit in a valid state body."""
    span = _walk(body).get("serial")
    if not span:
        raise InvalidState('"serial" must be an integer.')
    return span


def check_utf8(body):
    if body.isascii() if hasattr(body, "isascii") else bytes(body).isascii():
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    try:
        for start in range(0, len(view), UTF8_PIECE):
            decoder.decode(view[start : start + UTF8_PIECE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise InvalidState(f"The body is not valid UTF-8: {exc.reason}.") from None


def _syntax_error(buf, pos, expected):
    if pos >= len(buf):
        return InvalidState(f"The body is not valid JSON: it ends where {expected} is expected.")
    return InvalidState(f"The body is not valid JSON: expected {expected} at byte {pos}.")


def _key(buf, pos):
    """(position of the value, raw key) for an object member starting at `pos`."""
    match = _string(buf, pos)
    if match is None:
        raise _syntax_error(buf, pos, "a string key")
    pos = _ws(buf, match.end()).end()
    if pos >= len(buf) or buf[pos] != COLON:
        raise _syntax_error(buf, pos, "':'")
    return _ws(buf, pos + 1).end(), match.group()


def _top_key(raw):
    key = json.loads(raw)
    return key if key in _WANTED else None


def _walk(buf):
    """Check the JSON syntax of `buf`; the spans of the wanted top-level scalars.

    A wanted key whose value is a container maps to None.
    """
    size = len(buf)
    pos = _ws(buf, 0).end()
    if pos >= size:
        raise InvalidState("The body is empty: a state is a JSON object.")
    if buf[pos] != LBRACE:
        if _scalar(buf, pos) or buf[pos] == LBRACKET:
            raise InvalidState("The state must be a JSON object.")
        raise _syntax_error(buf, pos, "'{'")
    stack = bytearray()  # the open containers, innermost last
    fields = {}
    key = None  # the current top-level key when it is a wanted one
    while True:
        # A value starts at `pos`.
        char = buf[pos] if pos < size else -1
        if char in (LBRACE, LBRACKET):
            shallow = _shallow(buf, pos) if stack else None
            if len(stack) == 1 and key:
                fields[key] = None
            if shallow is not None:
                pos = shallow.end()
            else:
                if len(stack) >= MAX_DEPTH:
                    raise InvalidState(f"The state nests deeper than {MAX_DEPTH} levels.")
                stack.append(char)
                pos = _ws(buf, pos + 1).end()
                if pos < size and buf[pos] == _CLOSE[char]:
                    stack.pop()
                    pos += 1
                else:
                    pos = _enter(buf, pos, stack)
                    if char == LBRACE:
                        pos, raw = _key(buf, pos)
                        if len(stack) == 1:
                            key = _top_key(raw)
                    continue
        else:
            match = _scalar(buf, pos)
            if match is None:
                raise _syntax_error(buf, pos, "a value")
            if len(stack) == 1 and key:
                fields[key] = (pos, match.end())
            pos = match.end()
        # After a value: a comma, the end of containers, or the end of the body.
        while True:
            pos = _ws(buf, pos).end()
            if not stack:
                if pos != size:
                    raise _syntax_error(buf, pos, "the end of the body")
                return fields
            char = buf[pos] if pos < size else -1
            if char == COMMA:
                pos = _enter(buf, _ws(buf, pos + 1).end(), stack)
                if stack[-1] == LBRACE:
                    pos, raw = _key(buf, pos)
                    if len(stack) == 1:
                        key = _top_key(raw)
                break
            if char != _CLOSE[stack[-1]]:
                raise _syntax_error(buf, pos, f"',' or '{chr(_CLOSE[stack[-1]])}'")
            stack.pop()
            pos += 1


def _enter(buf, pos, stack):
    """Skip, in C, the complete elements at `pos` that a comma follows.

    Never at the top level, whose keys the walker must see.
    """
    if len(stack) < 2:
        return pos
    run = _object_run if stack[-1] == LBRACE else _array_run
    return run(buf, pos).end()
