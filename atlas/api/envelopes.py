"""Reading and validating the named envelopes of request bodies.

Atlas bodies name their resource: `{"environment": {...}}`. A body that is
not an object, or lacks the envelope, is malformed (400); a serializer that
finds the content invalid answers 422 naming the field.
"""

from rest_framework.exceptions import ParseError

from .exceptions import Unprocessable


def unwrap(data, name, required=True):
    """The object under `name` in a request body; {} when optional and absent."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParseError("The body must be an object.")
    inner = data.get(name)
    if inner is None:
        if required:
            raise ParseError({name: [f'is missing: send {{"{name}": {{...}}}}']})
        return {}
    if not isinstance(inner, dict):
        raise ParseError({name: ["must be an object"]})
    return inner


def validated(serializer):
    """The serializer's validated data, or a 422 with its field errors."""
    if not serializer.is_valid():
        raise Unprocessable(serializer.errors)
    return serializer.validated_data
