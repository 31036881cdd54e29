"""Re-encrypt variable values under the current key, after `rotate_keys`.

`rotate_keys` re-encrypts blobs; variable values and the variables recorded
with configuration versions are sealed in the database instead (see
`environments.crypto`) and are moved to the current key here. Run it after
every rotation, and before retiring the old key.
"""

from django.core.management.base import BaseCommand

from atlas.keys import key_ring
from environments.crypto import count_using_key, reseal_all


class Command(BaseCommand):
    help = "Re-encrypt sealed variable values under the current key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--count",
            metavar="KEY_ID",
            help="Only report how many sealed values still use KEY_ID.",
        )

    def handle(self, *args, count, **options):
        if count:
            self.stdout.write(f"{count_using_key(count)} sealed values use key {count}.")
            return
        done = reseal_all()
        self.stdout.write(f"Resealed {done} values under key {key_ring().current}.")
