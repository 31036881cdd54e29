"""End to end: run events notify real receivers in processes of their own.

A live server, a real worker (`manage.py run_worker`), Terraform 0.11.11;
an HTTP receiver that verifies the signature, a receiver that accepts only
Slack's message shape, and an SMTP server (aiosmtpd).
"""

import json
from email import message_from_bytes
from email.policy import default as default_policy
from urllib.parse import urlsplit

import pytest

from runs.models import Delivery, DeliveryAttempt, Run, Status
from runs.notifications.models import Event

from .conftest import wait_for, wait_for_status
from .e2e import CHANGING, push, request, terraform_push
from .factories import environment
from .notify import Receiver, SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BROKEN = 'output "x" {\n  value = "${var.missing}"\n}\n'
WORKER_SETTINGS = {
    "ATLAS_NOTIFY_ALLOW_PRIVATE": "true",  # the receivers listen on 127.0.0.1
    "ATLAS_NOTIFY_RETRY_BASE_SECONDS": "1",
    "ATLAS_NOTIFY_TIMEOUT_SECONDS": "2",
}


def _create(live_server, token, notification):
    status, body, _ = request(
        "POST",
        f"{live_server.url}/api/v1/environments/acme/app/notifications",
        token,
        {"notification": notification},
    )
    assert status == 201, body
    return json.loads(body)["notification"]


def _delivered(configuration_id, count):
    def done():
        rows = Delivery.objects.filter(configuration_id=configuration_id)
        finished = rows.filter(status=Delivery.Status.DELIVERED)
        return finished.count() == count and not rows.exclude(pk__in=finished).exists()

    try:
        wait_for(done, timeout=60, message=f"{count} deliveries to {configuration_id}")
    except AssertionError:
        states = DeliveryAttempt.objects.filter(delivery__configuration_id=configuration_id)
        raise AssertionError(
            list(states.values_list("delivery__event", "outcome", "error"))
        ) from None
    return {d.event: d for d in Delivery.objects.filter(configuration_id=configuration_id)}


def _run(slug_run_id=None):
    return wait_for(lambda: Run.objects.exclude(pk=slug_run_id).order_by("-id").first(), timeout=20)


@pytest.fixture
def notify_settings(settings):
    settings.ATLAS_NOTIFY_ALLOW_PRIVATE = True  # the live server validates the URLs


def test_a_confirmed_run_and_an_errored_one_notify_a_signed_webhook_slack_and_email(
    personas, live_server, workers, tmp_path, notify_settings
):
    environment("app")
    personas.writer.user.email = "writer@example.com"
    personas.writer.user.save()
    admin = personas.admin.token
    secret_file = str(tmp_path / "webhook" / "secret")
    with (
        Receiver(
            tmp_path / "webhook", "--secret-file", secret_file, "--fail-first", "2"
        ) as webhook,
        Receiver(tmp_path / "slack", "--slack") as slack,
        SmtpServer(tmp_path) as smtp,
    ):
        hook = _create(
            live_server, admin, {"kind": "webhook", "url": webhook.url(), "events": Event.values}
        )
        webhook.set_secret(hook["secret"])
        slack_url = slack.url("/services/T1/B2/xyz")
        chat = _create(
            live_server,
            admin,
            {"kind": "slack", "url": slack_url, "events": ["planned", "applied", "errored"]},
        )
        recipients = ["writer", "ops@example.com"]
        mail = _create(
            live_server,
            admin,
            {"kind": "email", "recipients": recipients, "events": ["planned", "errored"]},
        )
        workers.start(
            **WORKER_SETTINGS, ATLAS_SMTP_HOST="127.0.0.1", ATLAS_SMTP_PORT=str(smtp.port)
        )

        terraform_push(live_server.url, personas.writer.token, tmp_path / "config", CHANGING)
        run = wait_for_status(_run(), Status.PLANNED, timeout=60)
        # Told that the plan needs them (after two refusals and retries), they confirm.
        planned = wait_for(
            lambda: Delivery.objects.filter(
                configuration_id=hook["id"], event="planned", status="delivered"
            ).first(),
            timeout=30,
            message="the planned webhook",
        )
        status, body, _ = request(
            "POST", f"{live_server.url}/api/v1/runs/{run.pk}/actions/confirm", personas.writer.token
        )
        assert status == 200, body
        wait_for_status(run, Status.APPLIED, timeout=60)
        push(live_server.url, personas.writer.token, "acme/app", {"main.tf": BROKEN})
        broken = wait_for_status(_run(run.pk), Status.ERRORED, timeout=60)

        hooks = _delivered(hook["id"], 5)
        chats = _delivered(chat["id"], 3)
        mails = _delivered(mail["id"], 2)
        received = webhook.requests()
        messages = [
            message_from_bytes(m.as_bytes(), policy=default_policy) for m in smtp.messages()
        ]
        chat_requests = slack.requests()

    # The webhook: one success per event, all signed, the first two refused by the receiver.
    assert set(hooks) == {"planned", "confirmed", "applying", "applied", "errored"}
    assert [r["answered"] for r in received[:3]] == [500, 500, 200]
    assert all(r["verified"] for r in received)
    successes = [r for r in received if r["answered"] == 200]
    ids = [r["headers"]["X-Atlas-Delivery"] for r in successes]
    assert len(successes) == 5 and len(set(ids)) == 5
    assert {r["headers"]["X-Atlas-Delivery"] for r in received[:3]} == {str(planned.pk)}
    attempts = list(DeliveryAttempt.objects.filter(delivery=planned).order_by("number"))
    assert [(a.outcome, a.status_code) for a in attempts] == [
        ("failed", 500),
        ("failed", 500),
        ("succeeded", 200),
    ]
    assert all(a.latency_ms is not None for a in attempts)
    alerts = {json.loads(r["body"])["terraform_alert"]["status"]: r for r in successes}
    alert = json.loads(alerts["planned"]["body"])["terraform_alert"]
    assert alert["environment"] == "acme/app"
    assert alert["number"] == alert["run_id"] == run.pk
    assert alert["url"] == f"{live_server.url}/environments/acme/app/runs/{run.pk}"
    assert alert["message"].startswith("Plan finished: 0 to add")
    assert alert["delivery_id"] == alerts["planned"]["headers"]["X-Atlas-Delivery"]
    assert alerts["planned"]["headers"]["X-Atlas-Event"] == "planned"
    assert int(alerts["planned"]["headers"]["X-Atlas-Timestamp"]) > 0
    errored = json.loads(alerts["errored"]["body"])["terraform_alert"]
    assert errored["number"] == broken.pk and errored["message"].startswith("terraform")

    # Slack: its shape (the receiver refuses anything else), the status and the summary.
    assert [r["answered"] for r in chat_requests] == [200, 200, 200]
    texts = {json.loads(r["body"])["text"] for r in chat_requests}
    assert f"acme/app: run #{run.pk} needs confirmation (+0 ~0 -0)" in texts
    assert f"acme/app: run #{run.pk} was applied (+0 ~0 -0)" in texts
    assert any(t.startswith(f"acme/app: run #{broken.pk} errored") for t in texts)
    assert set(chats) == {"planned", "applied", "errored"}

    # Email: plain text and HTML to both recipients; the errored one ends with the log.
    assert set(mails) == {"planned", "errored"}
    assert len(messages) == 2
    by_subject = {m["Subject"]: m for m in messages}
    needs = by_subject[f"[Atlas] acme/app: run #{run.pk} needs confirmation"]
    failed = by_subject[f"[Atlas] acme/app: run #{broken.pk} errored"]
    for message in (needs, failed):
        assert {a.addr_spec for a in message["To"].addresses} == {
            "writer@example.com",
            "ops@example.com",
        }
        assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    assert f"/environments/acme/app/runs/{run.pk}" in needs.get_body(("plain",)).get_content()
    text = failed.get_body(("plain",)).get_content()
    assert "The end of the plan log:" in text
    assert "unknown variable referenced: 'missing'" in text
    assert "unknown variable referenced" in failed.get_body(("html",)).get_content()
    host = urlsplit(live_server.url).hostname
    assert needs["Message-ID"] == f"<{mails['planned'].pk}@{host}>"


def test_a_worker_killed_mid_delivery_neither_loses_nor_repeats_the_event(
    personas, live_server, workers, tmp_path, notify_settings
):
    from runs import machine

    from .factories import RunFactory

    env = environment("app")
    with Receiver(tmp_path / "hook", "--hang-first", "1") as receiver:
        created = _create(
            live_server,
            personas.admin.token,
            {"kind": "webhook", "url": receiver.url(), "events": ["discarded"]},
        )
        # Long enough an attempt that it is surely still waiting when the worker is killed.
        patient = {**WORKER_SETTINGS, "ATLAS_NOTIFY_TIMEOUT_SECONDS": "4"}
        doomed = workers.start(**patient)
        run = RunFactory(environment=env, status=Status.PLANNED)
        machine.discard(run, personas.writer.user)
        wait_for(lambda: receiver.requests(), timeout=30, message="the first attempt")
        workers.kill(doomed)  # while the receiver holds the request
        workers.start(**patient)
        (delivery,) = _delivered(created["id"], 1).values()
        received = receiver.requests()

    assert [r["answered"] for r in received] == ["hung", 200]
    assert {r["headers"]["X-Atlas-Delivery"] for r in received} == {str(delivery.pk)}
    assert Delivery.objects.filter(run=run).count() == 1
    attempts = list(delivery.attempts.order_by("number"))
    assert [a.outcome for a in attempts] == ["interrupted", "succeeded"]
    assert attempts[0].error == "The worker stopped during this attempt."
    assert attempts[0].worker != attempts[1].worker
