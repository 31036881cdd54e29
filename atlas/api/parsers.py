"""Request body parsers for /api/v1.

JSON and Rack-style forms (`variables[foo]=bar`) both become the same plain
dict, so a view never knows which one the client sent. Both are bounded: the
nesting depth and the number of parameters, so a hostile body cannot make the
server recurse or allocate without limit.
"""

import json

import qs_codec
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_JSON_DEPTH = 32


def _depth(value, limit, level=0):
    if level > limit:
        return level
    if isinstance(value, dict):
        return max((_depth(v, limit, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, limit, level + 1) for v in value), default=level + 1)
    return level


def decode_form(text):
    """Decode a Rack-style query string into nested dicts, within the bounds."""
    options = qs_codec.DecodeOptions(
        depth=settings.ATLAS_MAX_PARAM_DEPTH,
        strict_depth=True,
        parameter_limit=settings.ATLAS_MAX_PARAMS,
        raise_on_limit_exceeded=True,
    )
    try:
        return qs_codec.decode(text, options)
    except IndexError:
        raise ParseError(
            f"Form parameters nest deeper than {settings.ATLAS_MAX_PARAM_DEPTH} levels."
        ) from None
    except ValueError:
        raise ParseError(f"More than {settings.ATLAS_MAX_PARAMS} form parameters.") from None


def _read_body(stream, parser_context):
    if stream is None:
        return b""
    return stream.read()


class BoundedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = _read_body(stream, parser_context)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ParseError("The JSON body nests too deeply.") from None
        if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise ParseError("The JSON body nests too deeply.")
        return data


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
