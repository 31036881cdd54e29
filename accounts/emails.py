"""Email to people: invitations, password resets, address confirmations.

Through Django's email backends: printed to the server's output by default,
an SMTP server when ATLAS_SMTP_HOST names one. Messages go once the
transaction that asked for them commits; a failure to send is logged and
does not undo what was done (the person can ask again).
"""

import logging

from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

logger = logging.getLogger("atlas.accounts")


def send(to, template, context):
    """Send `templates/accounts/email/<template>.txt` (first line: the subject)."""
    text = render_to_string(f"accounts/email/{template}.txt", context)
    subject, _, body = text.lstrip().partition("\n")
    try:
        send_mail(subject.strip(), body.lstrip("\n"), None, [to])
    except Exception:
        logger.exception("Could not send the %s email", template)
        return False
    return True


def send_on_commit(to, template, context):
    transaction.on_commit(lambda: send(to, template, context), robust=True)
