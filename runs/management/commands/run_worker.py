"""`manage.py run_worker`: the process that executes queued tasks.

A thin wrapper around django-tasks-db's `db_worker` so operators have one
name to run on every worker machine; the runs app hooks its reaper here.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run queued tasks (runs) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=0.5)
        parser.add_argument("--worker-id", default=None)

    def handle(self, *args, interval, worker_id, **options):
        extra = {"worker_id": worker_id} if worker_id else {}
        call_command("db_worker", interval=interval, reload=False, **extra)
