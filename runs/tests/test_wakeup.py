"""An idle worker wakes when a task is queued instead of sleeping its interval.

The intervals here are long (60 s): a wait that ends proves the wake-up,
whatever the machine's speed. `transaction=True`: the waiting side reads
through connections of its own, which must see the committed task.
"""

import threading

import pytest
from django.db import connection, transaction

from runs.tasks import execute_run
from runs.wakeup import Listener, WakingWorker, queue_connection

pytestmark = pytest.mark.django_db(transaction=True)
LONG = 60


def _worker(**overrides):
    options = {
        "queue_names": ["default"],
        "interval": LONG,
        "wake_poll": 0.05,
        "batch": False,
        "backend_name": "default",
        "startup_delay": False,
        "max_tasks": None,
        "worker_id": "test-worker",
        "excluded_queue_names": [],
    }
    return WakingWorker(**{**options, **overrides})


def _in_thread(function):
    done = threading.Event()

    def target():
        try:
            function()
        finally:
            connection.close()
            done.set()

    threading.Thread(target=target, daemon=True).start()
    return done


def test_a_waiting_worker_wakes_when_a_task_is_queued_and_claims_it():
    worker = _worker()
    woke = _in_thread(worker.wait)
    assert not woke.wait(0.5), "the worker woke with nothing queued"
    result = execute_run.enqueue(123456)
    assert woke.wait(LONG / 2), "the worker slept through the enqueue"
    claimed = worker.claim()
    assert claimed is not None and str(claimed.id) == str(result.id)
    assert claimed.worker_ids == ["test-worker"]
    assert worker.claim() is None  # claimed once only
    if worker.listener is not None:
        worker.listener.close()


def test_a_task_rolled_back_wakes_no_one_and_is_never_claimed():
    worker = _worker(interval=0.2)
    with transaction.atomic():
        execute_run.enqueue(1)
        transaction.set_rollback(True)
    assert worker.claim() is None
    worker.wait()  # ends after the interval: nothing to take
    assert worker.claim() is None
    if worker.listener is not None:
        worker.listener.close()


@pytest.mark.skipif(
    "queue_connection().vendor != 'postgresql'", reason="LISTEN/NOTIFY is PostgreSQL's"
)
def test_on_postgresql_the_enqueue_is_notified_at_commit():
    listener = Listener(queue_connection())
    try:
        assert listener.wait(0.1) is False  # connects and listens; nothing yet
        with transaction.atomic():
            execute_run.enqueue(7)
            assert listener.wait(0.2) is False  # not before the commit
        assert listener.wait(LONG) is True
    finally:
        listener.close()
