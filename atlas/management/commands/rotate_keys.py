"""Rotate the server key ring and re-encrypt blobs under the new key.

Blobs are found through the models that own them: every installed model with
a ``blob_fields = [("<name field>", "<key id field>"), ...]`` class attribute
(see `atlas.blobs.iter_blob_models`). Each row whose key id is not current is
re-encrypted to a new blob outside any transaction (bodies can be large and
SQLite holds one write lock), then swapped in under `select_for_update` only
if the row still names the same blob; the old blob is deleted after commit.
An interrupted run is finished with `--reencrypt-only`.

Other running processes keep their cached ring until restarted, but a
process that meets a blob under a key it does not know reads the key file
again (`atlas.blobs`), so rotating a file-based ring needs no downtime. A
ring given in ATLAS_KEYS cannot be changed from here: the new ring is written
to `--ring-json-out` for the operator to install, and blobs are re-encrypted
by a later `--reencrypt-only` once every process runs with it.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Token
from atlas.blobs import delete_blob, iter_blob_models, reencrypt_blob
from atlas.keys import (
    KeyRing,
    key_ring,
    reset_key_ring,
    sealed_value_handlers,
    write_key_file,
)

BATCH = 500


class Command(BaseCommand):
    help = "Add a new current key to the key ring and re-encrypt every blob under it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reencrypt-only",
            action="store_true",
            help="Re-encrypt blobs not under the current key, without adding a key.",
        )
        parser.add_argument(
            "--retire",
            metavar="KEY_ID",
            help="Remove a key no blob uses any more from the ring.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="With --retire: retire even though API tokens still use the key "
            "(those tokens stop working).",
        )
        parser.add_argument(
            "--ring-json-out",
            metavar="PATH",
            help="Write the changed ring to PATH (mode 0600) instead of the key file; "
            "required when the ring comes from ATLAS_KEYS.",
        )

    def handle(self, *args, reencrypt_only, retire, force, ring_json_out, **options):
        if retire:
            if reencrypt_only:
                raise CommandError("--retire and --reencrypt-only do not go together.")
            self.retire(retire, force, ring_json_out)
            return
        if not reencrypt_only:
            ring = key_ring().with_new_key()
            if not self.install(ring, ring_json_out, f"Added current key {ring.current}."):
                self.stdout.write(
                    "Install it as ATLAS_KEYS in every process, restart them, then run "
                    "`manage.py rotate_keys --reencrypt-only`."
                )
                return
        self.reencrypt_all()

    def install(self, ring, out, message):
        """Put the new ring in place; False when it was only written to `out`."""
        if out:
            write_key_file(out, ring)
            self.stdout.write(f"{message} The new ring was written to {out}.")
            return False
        if settings.ATLAS_KEYS:
            raise CommandError(
                "The key ring comes from the ATLAS_KEYS environment variable, which this "
                "command cannot change. Pass --ring-json-out PATH to write the new ring "
                "to a file and install it yourself."
            )
        write_key_file(settings.ATLAS_KEYS_FILE, ring)
        reset_key_ring()
        if key_ring().current != ring.current:
            raise CommandError("The key file was written but the ring read back differs.")
        self.stdout.write(f"{message} Key file {settings.ATLAS_KEYS_FILE} updated.")
        return True

    def reencrypt_all(self):
        current = key_ring().current
        totals = {"re-encrypted": 0, "changed meanwhile": 0, "failed": 0}
        for model, name_field, key_field in iter_blob_models():
            rows = (
                model._base_manager.exclude(**{key_field: current})
                .exclude(**{f"{name_field}__isnull": True})
                .exclude(**{name_field: ""})
                .order_by("pk")
            )
            last = None
            while True:
                batch = rows if last is None else rows.filter(pk__gt=last)
                pks = list(batch.values_list("pk", flat=True)[:BATCH])
                if not pks:
                    break
                for pk in pks:
                    try:
                        outcome = reencrypt_row(model, pk, name_field, key_field)
                    except Exception as exc:  # report and go on with the other rows
                        outcome = "failed"
                        label = model._meta.label
                        self.stderr.write(f"{label} {pk} {name_field}: {exc!r}")
                    if outcome:
                        totals[outcome] += 1
                last = pks[-1]
        summary = ", ".join(f"{count} {what}" for what, count in totals.items())
        self.stdout.write(f"Blobs under key {current}: {summary}.")
        for label, (reseal_all, _count) in sealed_value_handlers().items():
            self.stdout.write(f"Re-sealed {reseal_all()} {label} under key {current}.")
        if totals["failed"]:
            raise CommandError(f"{totals['failed']} blobs could not be re-encrypted.")

    def retire(self, key_id, force, out):
        ring = key_ring()
        if key_id not in ring.keys:
            raise CommandError(f"There is no key {key_id!r} in the ring.")
        if key_id == ring.current:
            raise CommandError(f"Key {key_id!r} is current: rotate to a new key first.")
        in_use = sum(
            model._base_manager.filter(**{key_field: key_id}).count()
            for model, _name_field, key_field in iter_blob_models()
        )
        in_use += sum(count(key_id) for _reseal, count in sealed_value_handlers().values())
        if in_use:
            raise CommandError(
                f"{in_use} blobs or sealed values still use key {key_id!r}: "
                "run `manage.py rotate_keys --reencrypt-only` first."
            )
        tokens = token_count(key_id)
        if tokens:
            self.stdout.write(
                f"{tokens} API tokens still use key {key_id!r} (not used since the "
                "rotation); retiring the key invalidates them."
            )
            if not force:
                raise CommandError("Not retired; pass --force to retire anyway.")
        keys = {k: v for k, v in ring.keys.items() if k != key_id}
        self.install(KeyRing(ring.current, keys), out, f"Retired key {key_id}.")


def reencrypt_row(model, pk, name_field, key_field):
    """Re-encrypt the blob of one row; the outcome for the totals, or None if gone."""
    manager = model._base_manager
    row = manager.filter(pk=pk).values_list(name_field, key_field).first()
    if row is None or not row[0]:
        return None
    old_name = row[0]
    new_name, new_key_id = reencrypt_blob(old_name)
    with transaction.atomic():
        locked = manager.select_for_update().filter(pk=pk).values_list(name_field, key_field)
        swapped = locked.first() == row
        if swapped:
            manager.filter(pk=pk).update(**{name_field: new_name, key_field: new_key_id})
    if not swapped:
        delete_blob(new_name)  # the row moved on meanwhile; its new blob is current already
        return "changed meanwhile"
    transaction.on_commit(lambda: delete_blob(old_name))
    return "re-encrypted"


def token_count(key_id):
    """API tokens whose digest still uses `key_id` (not used since a rotation)."""
    return Token._base_manager.filter(key_id=key_id).count()
