"""run_worker waits for the database instead of exiting when it goes away."""

from django.db import OperationalError

from runs.management.commands import run_worker


def _fake_worker(monkeypatch, run):
    monkeypatch.setattr(run_worker.WakingWorker, "run", run)
    monkeypatch.setattr(run_worker.WakingWorker, "configure_signals", lambda self: None)


def test_the_worker_starts_again_after_a_database_error(monkeypatch):
    calls = []

    def run(worker):
        calls.append(worker.worker_id)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")

    _fake_worker(monkeypatch, run)
    monkeypatch.setattr(run_worker.time, "sleep", lambda seconds: None)
    run_worker.Command().work(interval=0.5, wake_poll=0.05, worker_id="w1")
    assert calls == ["w1", "w1", "w1"]


def test_other_errors_still_stop_the_worker(monkeypatch):
    def run(worker):
        raise RuntimeError("a bug")

    _fake_worker(monkeypatch, run)
    try:
        run_worker.Command().work(interval=0.5, wake_poll=0.05, worker_id="w1")
    except RuntimeError as exc:
        assert str(exc) == "a bug"
    else:
        raise AssertionError("the worker swallowed a bug")
