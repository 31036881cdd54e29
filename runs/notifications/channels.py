"""Handing one delivery to its channel: a signed webhook, Slack or email.

Each returns a `sender.Response`; none raises for a failure of the other
side, which is an outcome to record and perhaps retry.
"""

import hashlib
import hmac
import smtplib
import time

from django.conf import settings
from django.core.mail import get_connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.privileges import namespace_level

from . import payloads, sender
from .models import Kind

SIGNATURE_HEADER = "X-Atlas-Signature"
DELIVERY_HEADER = "X-Atlas-Delivery"
TIMESTAMP_HEADER = "X-Atlas-Timestamp"
EVENT_HEADER = "X-Atlas-Event"


def signature(secret, body):
    """`sha256=<hex>`: HMAC-SHA256 of the exact body bytes, keyed with the
    configuration's secret (its UTF-8 bytes)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(delivery):
    kind = delivery.configuration.kind
    if kind == Kind.WEBHOOK:
        return send_webhook(delivery)
    if kind == Kind.SLACK:
        return sender.post(
            delivery.configuration.url,
            payloads.slack_body(delivery),
            {"Content-Type": "application/json"},
        )
    return send_email(delivery)


def send_webhook(delivery):
    configuration = delivery.configuration
    sent_at = timezone.now()
    body = payloads.webhook_body(delivery, sent_at)
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
        TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
        SIGNATURE_HEADER: signature(configuration.secret, body),
    }
    return sender.post(configuration.url, body, headers)


def recipient_addresses(configuration):
    """The addresses to write to, in the configuration's order: addresses as
    given, and the email of each named user who can still read the
    environment (nobody who lost access is told about its runs)."""
    names = [entry for entry in configuration.recipients if "@" not in entry]
    users = {}
    if names:
        query = Q()
        for name in names:
            query |= Q(username__iexact=name)
        environment = configuration.environment
        users = {
            user.username.lower(): user
            for user in User.objects.filter(query, is_active=True).exclude(email="")
            if namespace_level(user, environment.namespace, environment=environment) is not None
        }
    addresses = []
    for entry in configuration.recipients:
        if "@" in entry:
            addresses.append(entry)
        elif entry.lower() in users:
            addresses.append(users[entry.lower()].email)
    return list(dict.fromkeys(addresses))


def send_email(delivery):
    recipients = recipient_addresses(delivery.configuration)
    if not recipients:
        return sender.Response(
            error="No recipient: the named users have no email or can no longer read "
            "this environment.",
            refused=True,
        )
    message = payloads.email_message(delivery, recipients)
    started = time.monotonic()
    response = sender.Response()
    try:
        connection = get_connection(timeout=settings.ATLAS_NOTIFY_TIMEOUT_SECONDS)
        message.connection = connection
        if not message.send():
            response.error = "The mail server accepted no recipient."
    except smtplib.SMTPRecipientsRefused as exc:
        response.error = f"Every recipient was refused ({len(exc.recipients)})."
        response.refused = True
    except (smtplib.SMTPException, OSError) as exc:
        response.error = f"The mail server failed: {str(exc)[:250] or type(exc).__name__}"
    response.latency_ms = int((time.monotonic() - started) * 1000)
    return response
