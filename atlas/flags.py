"""The yes/no a client sends, in one vocabulary for every door.

JSON clients send true/false; forms and query strings send words. The same
words mean the same thing wherever a flag is read (a destroy plan, a forced
unlock, a variable's `hcl`): true, 1, yes, on and false, 0, no, off, or
nothing, in any case.
"""

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})


def parse_flag(value):
    """True or False for a flag a client sent (null or absent: False), or
    None when it is not one: the caller answers 422 naming its field."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None
