"""The thread of `manage.py run_worker` that hands notifications over.

It takes tasks of the `notifications` queue only, beside the thread that
executes runs, so a notification goes out while a plan or apply is still
running. It is django-tasks-db's own worker loop on that queue, started
again after a database outage like the main one.
"""

import logging
import threading
import time

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Worker

from .delivery import worker_name
from .tasks import QUEUE

logger = logging.getLogger("atlas.notifications")
MAX_BACKOFF_SECONDS = 15


class DeliveryThread(threading.Thread):
    def __init__(self, interval):
        super().__init__(name="notification-delivery", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()
        self.worker = None

    def run(self):
        backoff = 1.0
        try:
            while not self.stopped.is_set():
                self.worker = Worker(
                    queue_names=[QUEUE],
                    interval=self.interval,
                    batch=False,
                    backend_name="default",
                    startup_delay=False,
                    max_tasks=None,
                    worker_id=worker_name(),
                    excluded_queue_names=[],
                )
                try:
                    self.worker.run()
                    return
                except (OperationalError, InterfaceError) as exc:
                    close_old_connections()
                    connection.close()
                    logger.warning(
                        "Database unavailable (%s); delivering again in %.0f s", exc, backoff
                    )
                    time.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        finally:
            connection.close()

    def stop(self):
        self.stopped.set()
        if self.worker is not None:
            self.worker.running = False
