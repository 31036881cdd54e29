"""What each channel says about an event: the webhook body, the Slack
message and the email.

The webhook body is Atlas's `terraform_alert` object, so receivers written
for Atlas keep working, with additive fields: the run and delivery ids,
the environment's parts and links, change counts and timestamps.
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from ..conf import run_address
from ..logs import read_log
from ..models import Phase
from .models import TEST_EVENT, Event

LOG_TAIL_LINES = 30
LOG_TAIL_BYTES = 16 * 1024

HEADLINES = {
    Event.PLANNED: "needs confirmation",
    Event.CONFIRMED: "was confirmed",
    Event.DISCARDED: "was discarded",
    Event.APPLYING: "is applying",
    Event.APPLIED: "was applied",
    Event.ERRORED: "errored",
    TEST_EVENT: "test notification",
}


def public_url(path):
    """An absolute link to a page of this server, for people."""
    return (settings.EXTERNAL_URL or run_address()).rstrip("/") + path


def configuration_path(configuration):
    """The configuration's page, where its deliveries are listed."""
    environment = configuration.environment
    return reverse(
        "runs:integration",
        kwargs={
            "username": environment.namespace.name,
            "name": environment.name,
            "pk": configuration.pk,
        },
    )


def _iso(when):
    return when.isoformat().replace("+00:00", "Z") if when else None


def facts(delivery):
    """Everything the channels say about a delivery, as plain values."""
    configuration = delivery.configuration
    environment = configuration.environment
    slug = f"{environment.namespace.name}/{environment.name}"
    kwargs = {"username": environment.namespace.name, "name": environment.name}
    environment_url = public_url(reverse("environments:overview", kwargs=kwargs))
    run = delivery.run
    if run is None:
        return {
            "slug": slug,
            "environment": environment,
            "environment_url": environment_url,
            "run": None,
            "url": environment_url,
            "headline": HEADLINES[TEST_EVENT],
            "message": delivery.message,
            "summary": "",
        }
    url = public_url(reverse("runs:detail", kwargs={**kwargs, "run_id": run.pk}))
    summary = ""
    if run.has_changes is not None:
        summary = (
            f"+{run.resource_additions or 0} ~{run.resource_changes or 0} "
            f"-{run.resource_destructions or 0}"
        )
    return {
        "slug": slug,
        "environment": environment,
        "environment_url": environment_url,
        "run": run,
        "url": url,
        "headline": f"run #{run.pk} {HEADLINES.get(delivery.event, delivery.event)}",
        "message": delivery.message,
        "summary": summary,
    }


def webhook_body(delivery, sent_at):
    """The signed JSON body: `{"terraform_alert": {...}}`, compact UTF-8."""
    f = facts(delivery)
    run = f["run"]
    alert = {
        "environment": f["slug"],
        "message": f["message"],
        "number": run.pk if run else None,
        "status": delivery.event,
        "url": f["url"],
        "run_id": run.pk if run else None,
        "environment_username": f["environment"].namespace.name,
        "environment_name": f["environment"].name,
        "environment_url": f["environment_url"],
        "destroy": run.destroy if run else None,
        "resource_additions": run.resource_additions if run else None,
        "resource_changes": run.resource_changes if run else None,
        "resource_destructions": run.resource_destructions if run else None,
        "occurred_at": _iso(delivery.occurred_at),
        "run_created_at": _iso(run.created_at) if run else None,
        "delivery_id": str(delivery.pk),
        "sent_at": _iso(sent_at),
        "test": delivery.event == TEST_EVENT,
    }
    return json.dumps({"terraform_alert": alert}, separators=(",", ":")).encode()


def _slack_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(delivery):
    """A Slack incoming-webhook message: a plain `text` (notifications and
    clients without blocks) and blocks with the status, the environment,
    the run link and the plan summary `+a ~c -d`."""
    f = facts(delivery)
    title = f"{f['slug']}: {f['headline']}"
    text = title + (f" ({f['summary']})" if f["summary"] else "")
    lines = [f"*<{f['url']}|{_slack_escape(title)}>*"]
    if f["summary"]:
        lines.append(f"Plan: `{f['summary']}`")
    if f["message"]:
        lines.append(_slack_escape(f["message"]))
    context = f"Atlas · {delivery.event} · {_iso(delivery.occurred_at)}"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    return json.dumps({"text": text, "blocks": blocks}, separators=(",", ":")).encode()


def log_tail(run):
    """The last lines of the log of the phase a run ended in (stored masked)."""
    phase = Phase.APPLY if run.applying_at else Phase.PLAN
    data, _size = read_log(run, phase, 0)
    text = data[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
    lines = text.splitlines()[-LOG_TAIL_LINES:]
    return phase, "\n".join(lines)


def email_message(delivery, recipients):
    """Plain text and HTML, the run link, and for an errored run the end of
    its log. The Message-ID is the delivery's, so a mail system that sees
    a repeat can tell."""
    f = facts(delivery)
    context = {**f, "delivery": delivery, "event": delivery.event, "tail": None}
    if delivery.event == Event.ERRORED and f["run"] is not None:
        context["tail_phase"], context["tail"] = log_tail(f["run"])
    subject = f"[Atlas] {f['slug']}: {f['headline']}"
    host = urlsplit(public_url("/")).hostname or "atlas.invalid"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("runs/notifications/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": f"<{delivery.pk}@{host}>", "X-Atlas-Delivery": str(delivery.pk)},
    )
    message.attach_alternative(
        render_to_string("runs/notifications/email.html", context), "text/html"
    )
    return message
