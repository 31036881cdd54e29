"""Text that no field may hold: NUL bytes and unpaired surrogates.

PostgreSQL refuses NUL in text and SQLite stores it, so the same input
would be a 500 on one database and silently kept on the other; a lone
surrogate (`"\\udc00"` in JSON) cannot be encoded as UTF-8 at all. Both are
refused at the edge, for every door: the API's body parsers and the query
string and path of every request (atlas.middleware).
"""

HOSTILE_TEXT_MESSAGE = "must not contain NUL bytes or unpaired surrogates"


def is_clean_text(text):
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class HostileText(ValueError):
    """A string in parsed data is not clean text; `field` names where it sits."""

    def __init__(self, field):
        super().__init__(field)
        self.field = field


class TooDeep(ValueError):
    pass


def check_data(data, max_depth):
    """Raise TooDeep or HostileText for parsed JSON or form data, or return it.

    One walk checks both. A string's field is the nearest dictionary key
    above it (its own key when the key itself is hostile: then its parent's),
    or `base` at the top.
    """
    stack = [(data, 0, "base")]
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, str):
            if not is_clean_text(value):
                raise HostileText(field)
        elif isinstance(value, dict):
            if depth >= max_depth:
                raise TooDeep()
            for key, item in value.items():
                key = str(key)
                if not is_clean_text(key):
                    raise HostileText(field)
                stack.append((item, depth + 1, key))
        elif isinstance(value, list):
            if depth >= max_depth:
                raise TooDeep()
            stack.extend((item, depth + 1, field) for item in value)
    return data
