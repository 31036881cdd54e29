"""The naming rule shared by namespaces (users, organizations) and environments."""

import re

from django.core.exceptions import ValidationError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}\Z")
NAME_HELP = "1 to 64 letters, digits, '-', '_' or '.', not starting with '.'"


def validate_name(value):
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise ValidationError(f"is invalid: use {NAME_HELP}", code="invalid")
