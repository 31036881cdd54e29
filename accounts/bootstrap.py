"""The first administrator, created on the very first start."""

import os
import secrets

from django.conf import settings
from django.db import transaction

from . import tokens
from .models import User

CREDENTIALS_FILE = "initial-admin.txt"


@transaction.atomic
def create_first_admin(username="admin"):
    """Create an administrator when the database has no user yet.

    Returns the text to show once (and keeps it, mode 0600, in the data
    directory), or None when users already exist.
    """
    if User.objects.exists():
        return None
    password = secrets.token_urlsafe(18)
    user = User(username=username, is_staff=True, is_superuser=True)
    user.set_password(password)
    user.save()
    _, token = tokens.issue(user, description="Created on first start")
    text = (
        "An administrator was created on first start.\n"
        f"  username:  {username}\n"
        f"  password:  {password}\n"
        f"  API token: {token}\n"
        "Change the password after signing in; this file can then be deleted.\n"
    )
    path = settings.DATA_DIR / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return text
