"""Re-encrypt variable values under the current key, or count those under a key.

Variable values and the variables recorded with configuration versions are
sealed in the database (see `environments.crypto`), not kept as blobs.
`rotate_keys` re-seals them along with the blobs (this app registers them in
`apps.py`) and refuses to retire a key they still use; this command does
only this app's part, e.g. to look at what still uses an old key.
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
