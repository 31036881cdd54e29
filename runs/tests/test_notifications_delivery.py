"""The outbox and the delivery state machine: deliveries written with the
run's transition, claimed once, retried with backoff, given up, recovered
after a worker died; configurations that keep failing are disabled."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from runs import machine
from runs.models import Delivery, DeliveryAttempt, NotificationConfiguration, Status
from runs.notifications import delivery as deliveries
from runs.notifications.outbox import record_event
from runs.notifications.sender import Response

from .factories import RunFactory, notification

pytestmark = pytest.mark.django_db

DeliveryStatus = Delivery.Status


@pytest.fixture
def hook(env):
    return notification(env, events=["planned", "confirmed", "discarded", "errored"])[0]


def _planned(env):
    run = RunFactory(environment=env, status=Status.PLANNING)
    machine.transition(run, Status.PLANNED, resource_additions=2, resource_changes=1)
    return run


def _pending(configuration, **fields):
    return Delivery.objects.create(configuration=configuration, event="test", **fields)


def test_a_transition_writes_one_delivery_per_matching_enabled_configuration(personas, env, hook):
    notification(
        env, kind="slack", url="https://hooks.slack.com/services/T/B/x", events=["applied"]
    )
    disabled, _secret = notification(env, events=["planned"], enabled=False)
    run = _planned(env)
    (delivery,) = Delivery.objects.all()
    assert delivery.configuration == hook and delivery.run == run
    assert delivery.event == "planned" and delivery.status == DeliveryStatus.PENDING
    assert (
        delivery.message
        == "Plan finished: 2 to add, 1 to change, 0 to destroy. It needs confirmation."
    )
    assert delivery.occurred_at == run.planned_at == delivery.next_attempt_at
    assert not Delivery.objects.filter(configuration=disabled).exists()


def test_the_task_is_queued_only_after_the_transition_commits(
    personas, env, hook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        _planned(env)
        assert Delivery.objects.count() == 1
        assert not DBTaskResult.objects.exists()
    assert len(callbacks) == 1
    task = DBTaskResult.objects.get()
    assert task.queue_name == "notifications"
    assert Delivery.objects.get().task_id == str(task.id)


def test_a_transition_that_rolls_back_leaves_no_delivery(personas, env, hook):
    run = RunFactory(environment=env, status=Status.PLANNING)
    with pytest.raises(RuntimeError), transaction.atomic():
        machine.transition(run, Status.PLANNED)
        raise RuntimeError("the caller failed after the move")
    assert not Delivery.objects.exists()
    assert run.__class__.objects.get(pk=run.pk).status == Status.PLANNING


def test_a_lost_race_for_a_transition_writes_nothing_more(personas, env, hook):
    run = _planned(env)
    stale = run.__class__.objects.get(pk=run.pk)
    stale.status = Status.PLANNING
    assert machine.transition(stale, Status.PLANNED) is False
    assert record_event(run, Status.PLANNED)  # even a second write of the same event
    assert Delivery.objects.count() == 1  # is absorbed by the idempotency key


def test_statuses_that_are_not_events_write_nothing(personas, env, hook):
    run = RunFactory(environment=env, status=Status.PENDING)
    machine.transition(run, Status.PLANNING)
    machine.transition(run, Status.PLANNED_AND_FINISHED)
    other = RunFactory(environment=env, status=Status.PENDING)
    machine.cancel(other, personas.writer.user)
    assert not Delivery.objects.exists()


def test_auto_apply_sends_no_needs_confirmation_but_says_who_confirmed(personas, hook):
    env = hook.environment
    env.auto_apply = True
    env.save()
    run = _planned(env)
    machine.confirm(run, None, auto=True)
    (delivery,) = Delivery.objects.all()
    assert delivery.event == "confirmed"
    assert delivery.message == "Confirmed automatically (auto-apply); the apply is queued."


def test_a_discard_and_an_error_say_who_and_why(personas, env, hook):
    run = _planned(env)
    machine.discard(run, personas.writer.user)
    errored = RunFactory(environment=env, status=Status.PLANNING)
    machine.transition(errored, Status.ERRORED, message="terraform plan failed (exit status 1).")
    messages = dict(Delivery.objects.values_list("event", "message"))
    assert messages["discarded"] == "Discarded by writer."
    assert messages["errored"] == "terraform plan failed (exit status 1)."


def test_only_one_of_two_claims_takes_a_delivery(personas, hook):
    delivery = _pending(hook)
    first = deliveries.claim(delivery.pk, worker="one")
    assert first is not None and first[1].number == 1 and first[1].worker == "one"
    assert deliveries.claim(delivery.pk, worker="two") is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERING and delivery.attempt_count == 1
    assert DeliveryAttempt.objects.count() == 1


def test_a_delivery_waiting_for_its_retry_is_not_claimed_early(personas, hook):
    delivery = _pending(hook, next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert deliveries.claim(delivery.pk) is None


def test_a_configuration_disabled_before_sending_skips_its_delivery(personas, env, hook):
    _planned(env)
    NotificationConfiguration.objects.update(enabled=False)
    delivery = Delivery.objects.get()
    assert deliveries.claim(delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SKIPPED and delivery.attempt_count == 0
    assert not DeliveryAttempt.objects.exists()


def test_a_failed_attempt_is_retried_later_with_backoff(
    personas, hook, settings, django_capture_on_commit_callbacks
):
    settings.ATLAS_NOTIFY_RETRY_BASE_SECONDS = 10
    delivery, attempt = deliveries.claim(_pending(hook).pk)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        status = deliveries.finish(delivery, attempt, Response(status=503, latency_ms=12))
    assert status == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.last_error == "The receiver answered HTTP 503."
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 8 <= wait <= 12.5
    attempt.refresh_from_db()
    assert (attempt.outcome, attempt.status_code, attempt.latency_ms) == ("failed", 503, 12)
    task = DBTaskResult.objects.get()
    assert task.run_after == delivery.next_attempt_at
    assert deliveries.backoff(3) >= 8 * 4 * 0.99  # doubling: 40 s ± 20 %


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (Response(status=404), "The receiver answered HTTP 404."),
        (Response(status=410), "The receiver answered HTTP 410."),
        (
            Response(error="Refused: the URL points to 10.0.0.1, a private address.", refused=True),
            "Refused: the URL points to 10.0.0.1, a private address.",
        ),
    ],
)
def test_failures_that_retrying_cannot_fix_fail_at_once(personas, hook, response, error):
    delivery, attempt = deliveries.claim(_pending(hook, run=None).pk)
    assert deliveries.finish(delivery, attempt, response) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.last_error == error and delivery.finished_at is not None


def test_a_delivery_gives_up_once_its_retry_window_has_passed(personas, env, hook, settings):
    settings.ATLAS_NOTIFY_RETRY_WINDOW_SECONDS = 60
    run = _planned(env)
    delivery = Delivery.objects.get(run=run)
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(seconds=55)
    )
    delivery, attempt = deliveries.claim(delivery.pk)
    assert deliveries.finish(delivery, attempt, Response(status=500)) == DeliveryStatus.FAILED
    configuration = NotificationConfiguration.objects.get(pk=hook.pk)
    assert configuration.failing_since is not None and configuration.enabled


def test_a_configuration_failing_for_days_is_disabled_and_its_admins_emailed(
    personas, env, hook, settings, django_capture_on_commit_callbacks
):
    personas.admin.user.email = "boss@example.com"
    personas.admin.user.save()
    settings.ATLAS_NOTIFY_DISABLE_AFTER_SECONDS = 3 * 24 * 3600
    NotificationConfiguration.objects.filter(pk=hook.pk).update(
        failing_since=timezone.now() - timedelta(days=3, minutes=1)
    )
    run = _planned(env)
    delivery, attempt = deliveries.claim(Delivery.objects.get(run=run).pk)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.finish(delivery, attempt, Response(status=404))
    configuration = NotificationConfiguration.objects.get(pk=hook.pk)
    assert not configuration.enabled
    assert configuration.disabled_reason.startswith("Disabled on ")
    assert "every delivery failed since" in configuration.disabled_reason
    (message,) = mail.outbox
    assert message.to == ["boss@example.com"]
    assert message.subject == "[Atlas] acme/app: a notification was disabled"
    assert f"/environments/acme/app/integrations/{hook.pk}" in message.body
    # Its next event is not delivered.
    machine.discard(run, personas.writer.user)
    assert not Delivery.objects.filter(event="discarded").exists()


def test_a_success_ends_the_failure_streak_but_tests_do_not_count(personas, env, hook):
    since = timezone.now() - timedelta(days=1)
    NotificationConfiguration.objects.filter(pk=hook.pk).update(failing_since=since)
    test, attempt = deliveries.claim(_pending(hook).pk)
    deliveries.finish(test, attempt, Response(status=200))
    assert NotificationConfiguration.objects.get(pk=hook.pk).failing_since == since
    run = _planned(env)
    delivery, attempt = deliveries.claim(Delivery.objects.get(run=run).pk)
    assert deliveries.finish(delivery, attempt, Response(status=204)) == DeliveryStatus.DELIVERED
    assert NotificationConfiguration.objects.get(pk=hook.pk).failing_since is None


def test_recovery_hands_on_a_delivery_whose_worker_died(personas, hook):
    delivery, attempt = deliveries.claim(_pending(hook).pk, worker="dead")
    assert deliveries.recover() == []  # the lease still holds
    expired = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=expired)
    assert deliveries.recover() == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.task_id
    assert delivery.last_error == "The worker stopped during this attempt."
    attempt.refresh_from_db()
    assert attempt.outcome == "interrupted" and attempt.finished_at is not None
    # The dead worker's late result changes nothing; the next attempt counts.
    assert deliveries.finish(delivery, attempt, Response(status=200)) == deliveries.SUPERSEDED
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    claimed, second = deliveries.claim(delivery.pk, worker="alive")
    assert second.number == 2
    assert deliveries.finish(claimed, second, Response(status=200)) == DeliveryStatus.DELIVERED


def test_recovery_queues_again_a_delivery_whose_task_was_lost(personas, hook):
    stale = timezone.now() - timedelta(minutes=5)
    lost = _pending(hook, next_attempt_at=stale, enqueued_at=stale)
    queued = _pending(hook, next_attempt_at=stale, enqueued_at=stale)
    deliveries.enqueue([queued.pk])  # its task waits behind others
    Delivery.objects.filter(pk=queued.pk).update(enqueued_at=stale)
    assert deliveries.recover() == [lost.pk]
    assert DBTaskResult.objects.count() == 2
