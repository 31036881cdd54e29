"""Waking an idle worker the moment a task is queued.

The queue (django-tasks-db's table) stays the only source of truth: a
worker takes tasks from it exactly as `db_worker` does, and a wake-up only
shortens its wait between two looks. A lost wake-up costs at most the
polling interval, as before.

- PostgreSQL: every enqueue sends `NOTIFY atlas_tasks` in the enqueuing
  transaction, so it is delivered when that commits (never for a task that
  was rolled back). Each idle worker LISTENs on a connection of its own and
  looks at the queue as soon as one arrives, else every `--interval`.
- SQLite has no notifications: an idle worker asks every `--wake-poll`
  seconds (0.05) whether a ready task exists. That is a read of the queue's
  partial index, which takes no write lock; claiming a task (which takes
  SQLite's write lock) happens only when there is one.
"""

import logging
import select
import time

from django.db import connections, router
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

logger = logging.getLogger("atlas.runs")

CHANNEL = "atlas_tasks"
# Connection parameters Django passes to psycopg that psycopg.connect() does not take.
_DJANGO_ONLY_PARAMS = ("cursor_factory", "context", "server_side_binding", "pool")


def queue_connection():
    return connections[router.db_for_write(DBTaskResult)]


def notify_enqueued(sender, task_result, **kwargs):
    """`task_enqueued` receiver: wake the idle workers (PostgreSQL only)."""
    connection = queue_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])


class Listener:
    """A connection of its own that LISTENs for enqueues (PostgreSQL)."""

    def __init__(self, connection):
        self.params = {
            key: value
            for key, value in connection.get_connection_params().items()
            if key not in _DJANGO_ONLY_PARAMS
        }
        self.connection = None

    def _connect(self):
        import psycopg

        self.connection = psycopg.connect(**self.params, autocommit=True)
        self.connection.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout):
        """Until a notification arrives or `timeout` passes; True for a notification."""
        try:
            if self.connection is None or self.connection.closed:
                self._connect()
            ready, _, _ = select.select([self.connection.fileno()], [], [], timeout)
            if not ready:
                return False
            # Take every notification that arrived: one look at the queue serves them all.
            return any(True for _ in self.connection.notifies(timeout=0))
        except Exception as exc:  # the database went away: fall back to polling
            logger.warning("Not listening for queued runs (%s); polling instead", exc)
            self.close()
            time.sleep(timeout)
            return False

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


class WakingWorker(Worker):
    """django-tasks-db's worker, woken by enqueues instead of sleeping a fixed interval."""

    def __init__(self, *, wake_poll, **kwargs):
        super().__init__(**kwargs)
        self.wake_poll = wake_poll
        connection = queue_connection()
        self.listener = Listener(connection) if connection.vendor == "postgresql" else None

    def ready_tasks(self):
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        return tasks

    def claim(self):
        """The next ready task, claimed for this worker; None when there is none."""
        tasks = self.ready_tasks()
        with exclusive_transaction(tasks.db):
            try:
                task_result = tasks.get_locked()
            except Exception as exc:
                if is_locked_database_exception(exc):
                    return None  # SQLite busy: look again after the next wait
                raise
            if task_result is not None:
                task_result.claim(self.worker_id)
        return task_result

    def wait(self):
        """Until a task may be ready: woken by an enqueue, else after `interval`."""
        if self.listener is not None:
            self.listener.wait(self.interval)
            return
        deadline = time.monotonic() + self.interval
        while self.running and time.monotonic() < deadline:
            if self.ready_tasks().exists():
                return
            time.sleep(min(self.wake_poll, max(deadline - time.monotonic(), 0)))

    def run(self):
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, self.queue_names)
        try:
            while self.running:
                self.close_old_connections()
                task_result = self.claim()
                if task_result is not None:
                    self.run_task(task_result)
                if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                    return
                self.close_old_connections()
                if self.running and task_result is None:
                    self.wait()
        finally:
            if self.listener is not None:
                self.listener.close()

    @staticmethod
    def close_old_connections():
        # As db_worker does: drop expired or broken connections between tasks.
        from django.db import close_old_connections

        close_old_connections()
