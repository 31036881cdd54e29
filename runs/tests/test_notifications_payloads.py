"""What each channel says: the legacy webhook body with its additions,
Slack's message, and the email with the end of an errored run's log."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from runs import machine
from runs.logs import LogWriter
from runs.models import Delivery, Status
from runs.notifications.channels import recipient_addresses
from runs.notifications.payloads import email_message, slack_body, webhook_body

from .factories import RunFactory, notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def links(settings):
    settings.EXTERNAL_URL = "https://atlas.example.com"


def _delivery(configuration, run, status):
    machine.transition(run, status)
    return Delivery.objects.get(configuration=configuration, run=run, event=status)


def test_the_webhook_body_is_the_legacy_alert_with_additions(personas, env, links):
    configuration, _secret = notification(env, events=["planned"])
    run = RunFactory(environment=env, status=Status.PLANNING, has_changes=True)
    run.resource_additions, run.resource_changes, run.resource_destructions = 3, 1, 0
    run.save()
    delivery = _delivery(configuration, run, Status.PLANNED)
    sent_at = timezone.now()
    alert = json.loads(webhook_body(delivery, sent_at))["terraform_alert"]
    legacy = {k: alert[k] for k in ("environment", "message", "number", "status", "url")}
    assert legacy == {
        "environment": "acme/app",
        "message": "Plan finished: 3 to add, 1 to change, 0 to destroy. It needs confirmation.",
        "number": run.pk,
        "status": "planned",
        "url": f"https://atlas.example.com/environments/acme/app/runs/{run.pk}",
    }
    assert alert["run_id"] == run.pk
    assert (alert["environment_username"], alert["environment_name"]) == ("acme", "app")
    assert alert["environment_url"] == "https://atlas.example.com/environments/acme/app"
    assert alert["resource_additions"] == 3 and alert["destroy"] is False
    assert alert["occurred_at"] == run.planned_at.isoformat().replace("+00:00", "Z")
    assert alert["sent_at"] == sent_at.isoformat().replace("+00:00", "Z")
    assert alert["delivery_id"] == str(delivery.pk) and alert["test"] is False


def test_a_test_delivery_has_no_run(personas, env, links):
    configuration, _secret = notification(env)
    delivery = Delivery.objects.create(configuration=configuration, event="test", message="Hi.")
    alert = json.loads(webhook_body(delivery, timezone.now()))["terraform_alert"]
    assert alert["status"] == "test" and alert["test"] is True
    assert alert["number"] is None and alert["run_id"] is None
    assert alert["url"] == "https://atlas.example.com/environments/acme/app"


def test_the_slack_message_has_the_status_link_and_plan_summary(personas, env, links):
    notification(
        env, kind="slack", url="https://hooks.slack.com/services/T/B/x", events=["errored"]
    )
    run = RunFactory(environment=env, status=Status.PLANNING, has_changes=True)
    run.resource_additions, run.resource_changes, run.resource_destructions = 1, 0, 2
    run.save()
    machine.transition(run, Status.ERRORED, message="Plan failed: <script> & more")
    delivery = Delivery.objects.get(run=run)
    message = json.loads(slack_body(delivery))
    assert message["text"] == f"acme/app: run #{run.pk} errored (+1 ~0 -2)"
    section = message["blocks"][0]["text"]["text"]
    link = f"https://atlas.example.com/environments/acme/app/runs/{run.pk}"
    assert section.startswith(f"*<{link}|acme/app: run #{run.pk} errored>*")
    assert "Plan: `+1 ~0 -2`" in section
    assert "Plan failed: &lt;script&gt; &amp; more" in section  # Slack's escaping
    assert message["blocks"][1]["type"] == "context"


def test_an_errored_runs_email_ends_with_its_masked_log(personas, env, links):
    notification(env, kind="email", recipients=["ops@example.com"])
    run = RunFactory(environment=env, status=Status.PLANNING)
    writer = LogWriter(run, "plan", secrets=["hunter2-secret"])
    for number in range(60):
        writer.write(f"line {number}\n")
    writer.write("Error: password hunter2-secret was refused <b>here</b>\n")
    writer.close()
    machine.transition(run, Status.ERRORED, message="terraform plan failed (exit status 1).")
    delivery = Delivery.objects.get(run=run)
    message = email_message(delivery, ["ops@example.com"])
    assert message.subject == f"[Atlas] acme/app: run #{run.pk} errored"
    assert message.extra_headers["Message-ID"] == f"<{delivery.pk}@atlas.example.com>"
    text = message.body
    assert "terraform plan failed (exit status 1)." in text
    assert f"https://atlas.example.com/environments/acme/app/runs/{run.pk}" in text
    assert "The end of the plan log:" in text
    assert "line 59" in text and "line 20\n" not in text  # the last lines only
    assert "hunter2-secret" not in text and "password *** was refused" in text
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert "&lt;b&gt;here&lt;/b&gt;" in html and "<b>here</b>" not in html


def test_a_planned_runs_email_has_no_log(personas, env, links):
    configuration, _secret = notification(env, kind="email", recipients=["ops@example.com"])
    run = RunFactory(environment=env, status=Status.PLANNING, has_changes=True)
    delivery = _delivery(configuration, run, Status.PLANNED)
    message = email_message(delivery, ["ops@example.com"])
    assert message.subject == f"[Atlas] acme/app: run #{run.pk} needs confirmation"
    assert "log" not in message.body.split("--")[0]


def test_email_goes_only_to_named_users_who_can_still_read(personas, env):
    for persona in (personas.reader, personas.writer):
        persona.user.email = f"{persona.user.username}@example.com"
        persona.user.save()
    configuration, _secret = notification(
        env, kind="email", recipients=["reader", "WRITER", "ops@example.com"]
    )
    assert recipient_addresses(configuration) == [
        "reader@example.com",
        "writer@example.com",
        "ops@example.com",
    ]
    Membership.objects.filter(user=personas.reader.user).delete()
    personas.writer.user.is_active = False
    personas.writer.user.save()
    # The reader lost access, the writer's account is off.
    assert recipient_addresses(configuration) == ["ops@example.com"]


def test_the_documented_verification_snippet_accepts_a_real_delivery(personas, env):
    from pathlib import Path

    from runs.notifications.channels import signature

    docs = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    snippet = docs.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(snippet, namespace)
    verify = namespace["verify"]
    configuration, secret = notification(env)
    delivery = Delivery.objects.create(configuration=configuration, event="test", message="Hi.")
    body = webhook_body(delivery, timezone.now())
    alert = verify(secret, body, signature(secret, body))
    assert alert["delivery_id"] == str(delivery.pk)
    with pytest.raises(ValueError, match="bad signature"):
        verify(secret, body.replace(b"Hi.", b"Ho."), signature(secret, body))
    old = webhook_body(delivery, timezone.now() - timedelta(minutes=10))
    with pytest.raises(ValueError, match="sent too long ago"):
        verify(secret, old, signature(secret, old))
