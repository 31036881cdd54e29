"""Request body parsers for /api/v1.

JSON and Rack-style forms (`variables[foo]=bar`) both become the same plain
dict, so a view never knows which one the client sent. Both are bounded: the
body's size (ATLAS_MAX_BODY_BYTES, enforced before any parser runs by
atlas.middleware.BodyLimitMiddleware), the nesting depth and the number of
parameters, so a hostile body cannot make the server recurse or allocate
without limit. Every string in either, keys included, must be clean text
(atlas.text): no NUL bytes, no unpaired surrogates, whatever the database.
"""

import json

import qs_codec
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from atlas.text import HOSTILE_TEXT_MESSAGE, HostileText, TooDeep, check_data

MAX_JSON_DEPTH = 32


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def checked(data, max_depth, too_deep_message):
    """`data` once its depth and every string in it are acceptable; else a 400."""
    try:
        return check_data(data, max_depth)
    except TooDeep:
        raise ParseError(too_deep_message) from None
    except HostileText as exc:
        raise ParseError({exc.field: [HOSTILE_TEXT_MESSAGE]}) from None


def decode_form(text):
    """Decode a Rack-style query string into nested dicts, within the bounds."""
    options = qs_codec.DecodeOptions(
        depth=settings.ATLAS_MAX_PARAM_DEPTH,
        strict_depth=True,
        parameter_limit=settings.ATLAS_MAX_PARAMS,
        raise_on_limit_exceeded=True,
    )
    try:
        data = qs_codec.decode(text, options)
    except IndexError:
        raise ParseError(
            f"Form parameters nest deeper than {settings.ATLAS_MAX_PARAM_DEPTH} levels."
        ) from None
    except ValueError:
        raise ParseError(f"More than {settings.ATLAS_MAX_PARAMS} form parameters.") from None
    return checked(
        data,
        settings.ATLAS_MAX_PARAM_DEPTH + 1,
        f"Form parameters nest deeper than {settings.ATLAS_MAX_PARAM_DEPTH} levels.",
    )


def _read_body(stream, parser_context):
    if stream is None:
        return b""
    return stream.read()


def decode_json(raw):
    """A JSON body (bytes) as data, bounded and clean, or a 400; also for
    views that read their own bodies."""
    try:
        data = json.loads(bytes(raw).decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ParseError("The JSON body nests too deeply.") from None
    return checked(data, MAX_JSON_DEPTH, "The JSON body nests too deeply.")


class BoundedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = _read_body(stream, parser_context)
        if not raw.strip():
            return {}
        return decode_json(raw)


class RackFormParser(BaseParser):
    """`application/x-www-form-urlencoded` with Rack-style nested keys."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = _read_body(stream, parser_context)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The form body is not valid UTF-8.") from None
        return decode_form(text)
