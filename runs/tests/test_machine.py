"""The run state machine: the table, conditional moves, and the actions."""

import threading

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from accounts.models import Token
from accounts.tokens import issue
from runs import machine
from runs.models import Run, Status
from runs.queue import lock_reason, queue_run

from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db

ALL = list(Status)


def test_every_status_that_is_not_final_has_a_way_out():
    for status in ALL:
        if status in machine.TERMINAL:
            assert machine.TRANSITIONS[status] == set()
        else:
            assert machine.TRANSITIONS[status] >= {Status.CANCELED, Status.ERRORED}


def test_only_the_documented_moves_exist():
    assert machine.TRANSITIONS[Status.PENDING] == {
        Status.PLANNING,
        Status.CANCELED,
        Status.ERRORED,
    }
    assert Status.APPLYING in machine.TRANSITIONS[Status.CONFIRMED]
    assert machine.sources(Status.APPLYING) == {Status.CONFIRMED}
    assert machine.sources(Status.APPLIED) == {Status.APPLYING}
    assert machine.sources(Status.PLANNED_AND_FINISHED) == {Status.PLANNING}


@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("target", ALL)
def test_a_move_happens_exactly_when_the_table_allows_it(personas, source, target):
    run = RunFactory(status=source)
    moved = machine.transition(run, target)
    allowed = target in machine.TRANSITIONS[source]
    assert moved is allowed
    run.refresh_from_db()
    assert run.status == (target if allowed else source)
    if allowed:
        assert getattr(run, f"{target}_at") is not None


def test_a_stale_copy_cannot_move_a_run_that_moved_meanwhile(personas):
    run = RunFactory(status=Status.CONFIRMED)
    other_copy = Run.objects.get(pk=run.pk)
    assert machine.transition(run, Status.APPLYING, expected=[Status.CONFIRMED])
    assert not machine.transition(other_copy, Status.APPLYING, expected=[Status.CONFIRMED])
    assert other_copy.status == Status.APPLYING
    assert Run.objects.get(pk=run.pk).status == Status.APPLYING


def test_an_apply_can_be_claimed_only_once_even_after_it_errored(personas):
    run = RunFactory(status=Status.CONFIRMED)
    assert machine.transition(run, Status.APPLYING, expected=[Status.CONFIRMED])
    assert machine.transition(run, Status.ERRORED)
    assert not machine.transition(run, Status.APPLYING, expected=[Status.CONFIRMED])
    assert Run.objects.get(pk=run.pk).status == Status.ERRORED


def test_a_final_move_frees_the_environment_revokes_tokens_and_starts_the_next_run(personas):
    env = environment("app")
    version = finished_version(env)
    first = queue_run(env, personas.writer.user, version=version)
    second = queue_run(env, personas.writer.user, version=version)
    token, _text = issue(personas.writer.user, kind=Token.Kind.RUN)
    first.tokens.add(token)
    env.refresh_from_db()
    assert env.locked and env.lock_reason == lock_reason(first)
    assert Run.objects.get(pk=second.pk).holds_lock is False

    assert machine.transition(first, Status.CANCELED)

    env.refresh_from_db()
    assert env.locked and env.lock_reason == lock_reason(second)
    assert Run.objects.get(pk=first.pk).holds_lock is False
    assert Run.objects.get(pk=second.pk).holds_lock is True
    assert Token.objects.get(pk=token.pk).revoked_at is not None
    assert DBTaskResult.objects.filter(id=Run.objects.get(pk=second.pk).task_id).exists()


def test_confirm_moves_a_planned_run_and_queues_its_apply(personas):
    run = RunFactory(status=Status.PLANNED)
    machine.confirm(run, personas.writer.user)
    run.refresh_from_db()
    assert run.status == Status.CONFIRMED
    assert run.confirmed_by == personas.writer.user
    task = DBTaskResult.objects.get(id=run.task_id)
    assert task.args_kwargs == {"args": [run.pk], "kwargs": {}}


@pytest.mark.parametrize("action", ["confirm", "discard"])
@pytest.mark.parametrize("status", [s for s in ALL if s != Status.PLANNED])
def test_confirm_and_discard_refuse_any_run_that_is_not_planned(personas, action, status):
    run = RunFactory(status=status)
    with pytest.raises(machine.TransitionRefused) as refused:
        getattr(machine, action)(run, personas.writer.user)
    assert refused.value.status == status
    assert Run.objects.get(pk=run.pk).status == status


def test_discard_ends_a_planned_run(personas):
    run = RunFactory(status=Status.PLANNED)
    machine.discard(run, personas.writer.user)
    run.refresh_from_db()
    assert run.status == Status.DISCARDED
    assert run.ended_by == personas.writer.user


@pytest.mark.parametrize("status", [Status.PENDING, Status.CONFIRMED])
def test_cancel_ends_a_waiting_run_at_once(personas, status):
    run = RunFactory(status=status)
    machine.cancel(run, personas.writer.user)
    run.refresh_from_db()
    assert run.status == Status.CANCELED
    assert run.canceled_at is not None


@pytest.mark.parametrize("status", [Status.PLANNING, Status.APPLYING])
def test_cancel_asks_the_worker_of_a_running_run_to_stop(personas, status):
    run = RunFactory(status=status)
    machine.cancel(run, personas.writer.user)
    run.refresh_from_db()
    assert run.status == status
    assert run.cancel_requested_at is not None
    machine.cancel(run, personas.writer.user)  # asking twice is harmless
    assert Run.objects.get(pk=run.pk).status == status


@pytest.mark.parametrize(
    "status",
    [Status.PLANNED, *sorted(machine.TERMINAL)],
)
def test_cancel_refuses_a_planned_or_finished_run(personas, status):
    run = RunFactory(status=status)
    with pytest.raises(machine.TransitionRefused):
        machine.cancel(run, personas.writer.user)
    assert Run.objects.get(pk=run.pk).status == status


def test_status_timestamps_list_each_status_reached_in_order(personas):
    run = RunFactory(status=Status.PENDING)
    machine.transition(run, Status.PLANNING)
    machine.transition(run, Status.PLANNED)
    run.refresh_from_db()
    assert list(run.status_timestamps()) == ["pending", "planning", "planned"]


@pytest.mark.django_db(transaction=True)
def test_of_many_workers_racing_to_claim_an_apply_exactly_one_wins(personas):
    run = RunFactory(status=Status.CONFIRMED)
    barrier = threading.Barrier(6)
    wins = []

    def claim():
        try:
            copy = Run.objects.get(pk=run.pk)
            barrier.wait()
            if machine.transition(copy, Status.APPLYING, expected=[Status.CONFIRMED]):
                wins.append(threading.get_ident())
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert Run.objects.get(pk=run.pk).status == Status.APPLYING
