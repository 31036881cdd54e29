"""run_worker waits for the database instead of exiting when it goes away."""

from django.db import OperationalError

from runs.management.commands import run_worker


def test_the_worker_starts_again_after_a_database_error(monkeypatch):
    calls = []

    def db_worker(name, **options):
        calls.append(name)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(run_worker, "call_command", db_worker)
    monkeypatch.setattr(run_worker.time, "sleep", lambda seconds: None)
    run_worker.Command().work(interval=0.5, verbosity=0, extra={})
    assert calls == ["db_worker", "db_worker", "db_worker"]


def test_other_errors_still_stop_the_worker(monkeypatch):
    def db_worker(name, **options):
        raise RuntimeError("a bug")

    monkeypatch.setattr(run_worker, "call_command", db_worker)
    try:
        run_worker.Command().work(interval=0.5, verbosity=0, extra={})
    except RuntimeError as exc:
        assert str(exc) == "a bug"
    else:
        raise AssertionError("the worker swallowed a bug")
