"""`manage.py run_worker`: the process that executes queued runs.

django-tasks-db's worker takes tasks one at a time, woken the moment one
is queued (runs.wakeup: PostgreSQL's LISTEN/NOTIFY, a read-only poll of
the queue's index on SQLite) instead of sleeping between looks; beside it a reaper
thread (`runs.reaper`) runs at start and every ATLAS_RUN_REAP_SECONDS, so a
run whose worker died is errored and its environment freed even when no
other process notices (and a notification whose worker died is handed on),
and a delivery thread (`runs.notifications.worker`) sends notifications.
Start as many workers as there are runs to execute in parallel, on any
machine that reaches the database and the blob store.

On start it removes the working directories that killed workers left
behind (runs.workdirs), and says when runs cannot have a network of their
own (runs.network).
"""

import logging
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils.crypto import get_random_string
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME

from accounts import audit
from runs import network, reaper, sandbox, workdirs
from runs.notifications import delivery
from runs.notifications.worker import DeliveryThread
from runs.wakeup import WakingWorker

logger = logging.getLogger("atlas.runs")
RECHECK_SECONDS = 30
MAX_BACKOFF_SECONDS = 15


class Reaper(threading.Thread):
    def __init__(self, interval):
        super().__init__(name="run-reaper", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self):
        try:
            while True:
                try:
                    done = reaper.reap()
                    done["notifications"] = delivery.recover()
                    done["audit_events_pruned"] = audit.prune()
                    if any(done.values()):
                        logger.info("Reaper: %s", done)
                except Exception:
                    logger.exception("The reaper failed; trying again later")
                finally:
                    connection.close()
                if self.stopped.wait(self.interval):
                    return
        finally:
            connection.close()


class Command(BaseCommand):
    """Takes no task while Terraform cannot run safely here (no bubblewrap):
    queued runs stay queued for a worker that can, rather than fail."""

    help = "Execute queued runs until stopped (and reap runs whose worker died)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="Longest wait between two looks at the queue (seconds)",
        )
        parser.add_argument(
            "--wake-poll",
            type=float,
            default=0.05,
            help="On SQLite, how often an idle worker checks for a queued run (seconds)",
        )
        parser.add_argument("--worker-id", default=None)
        parser.add_argument("--no-reaper", action="store_true")

    def handle(self, *args, interval, wake_poll, worker_id, no_reaper, **options):
        workdirs.sweep()
        workdirs.worker_directory()
        thread = None
        if not no_reaper:
            thread = Reaper(max(0.5, float(settings.ATLAS_RUN_REAP_SECONDS)))
            thread.start()
        # Notifications need no sandbox: they go out while runs wait for one.
        notifications = DeliveryThread(interval)
        notifications.start()
        self.wait_for_sandbox()
        try:
            self.work(interval, wake_poll, worker_id or get_random_string(32))
        finally:
            notifications.stop()
            if thread is not None:
                thread.stopped.set()

    def work(self, interval, wake_poll, worker_id):
        """Run the worker, and start it again when the database goes away.

        The worker gives up on the first database error (a PostgreSQL restart
        or failover); a worker should instead wait for the database to come
        back. The task it was executing, if any, is reaped like any other
        whose worker stopped heartbeating.
        """
        backoff = 1.0
        while True:
            started = time.monotonic()
            worker = WakingWorker(
                queue_names=[DEFAULT_TASK_QUEUE_NAME],
                interval=interval,
                wake_poll=wake_poll,
                batch=False,
                backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                startup_delay=False,
                max_tasks=None,
                worker_id=worker_id,
                excluded_queue_names=[],
            )
            worker.configure_signals()
            try:
                worker.run()
                return
            except (OperationalError, InterfaceError) as exc:
                close_old_connections()
                connection.close()
                if time.monotonic() - started > 60:
                    backoff = 1.0
                logger.warning("Database unavailable (%s); restarting in %.0f s", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def wait_for_sandbox(self):
        trouble = sandbox.problem()
        if not trouble and sandbox.network_for_phase()[0] != network.ISOLATED:
            self.stderr.write(self.style.WARNING(sandbox.network_for_phase()[1]))
        if trouble:
            self.stderr.write(
                self.style.ERROR(f"Runs cannot execute here: {trouble}")
                + f"\nTaking no runs until that is fixed (checking every {RECHECK_SECONDS} s)."
            )
        while trouble:
            time.sleep(RECHECK_SECONDS)
            trouble = sandbox.problem()
