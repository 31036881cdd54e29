"""Delete audit events older than ATLAS_AUDIT_RETENTION_DAYS.

Workers do this every few seconds on their own; this command is for servers
that run no worker, or for pruning at once after lowering the setting.
"""

from django.core.management.base import BaseCommand

from accounts import audit


class Command(BaseCommand):
    help = "Delete audit events older than ATLAS_AUDIT_RETENTION_DAYS (0 keeps them all)."

    def handle(self, *args, **options):
        pruned = audit.prune()
        self.stdout.write(f"Deleted {pruned} audit event{'s' if pruned != 1 else ''}.")
