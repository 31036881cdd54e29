"""Riding out a short database outage while a phase runs.

A phase outlives the database connection it started with: Terraform keeps
running while PostgreSQL restarts or fails over. What the phase writes in
the meantime waits in memory (the log, within its budget), and what it must
write when Terraform ends (the log's last lines, the plan, the new status) is
retried on a fresh connection for up to OUTAGE_SECONDS before the phase
gives up and the run errors as it would have without the retries.
"""

import logging
import time

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger("atlas.runs")

OUTAGE_SECONDS = 60
RETRY_SECONDS = 1.0
TRANSIENT = (OperationalError, InterfaceError)


def reconnect():
    """Drop this thread's connection: the next query opens a new one. A
    broken connection is never reopened by Django on its own outside a
    request. Inside a transaction the connection stays: the transaction's
    owner decides."""
    if not connection.in_atomic_block:
        connection.close()


def outlasting(action, *, progress=None, seconds=OUTAGE_SECONDS):
    """`action()`, retried on a new connection while the database is
    unreachable, for up to `seconds`; `progress` (if given) is called on
    every wait so a watchdog knows the thread is not stuck. Never used inside
    a transaction: a retry must start from a clean connection."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except TRANSIENT as exc:
            if connection.in_atomic_block or time.monotonic() >= deadline:
                raise
            logger.warning("The database is unreachable (%s); retrying", exc)
            reconnect()
            waited_until = time.monotonic() + RETRY_SECONDS
            while time.monotonic() < waited_until:
                if progress is not None:
                    progress()
                time.sleep(0.2)


def await_database(progress=None):
    """Return once this thread's connection answers a query (reconnecting
    after an outage)."""

    def ping():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    outlasting(ping, progress=progress)
