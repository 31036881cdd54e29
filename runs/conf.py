"""The runs app's settings, as atlas/settings.py reads them from the
environment (defaults and meaning there and in the README), and the values
derived from them. Bad values fail loudly."""

import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NETWORK_MODES = ("auto", "isolated", "host")


def terraform_binary():
    """The Terraform executable: ATLAS_TERRAFORM_BIN, else the real binary
    that `terraform-binary` installs (its `bin/terraform` is a Python wrapper
    that execs `<prefix>/lib/terraform`; the sandbox needs the binary itself)."""
    configured = settings.ATLAS_TERRAFORM_BIN
    if configured:
        return str(Path(configured).resolve())
    bundled = Path(sys.prefix) / "lib" / "terraform"
    if bundled.is_file():
        return str(bundled)
    found = shutil.which("terraform")
    if found:
        return str(Path(found).resolve())
    raise ImproperlyConfigured("No Terraform binary: set ATLAS_TERRAFORM_BIN.")


def sandbox_mode():
    """`bwrap` or `none`. Default: bwrap; `none` only when set explicitly.

    A worker without bubblewrap refuses to run Terraform rather than run a
    hostile configuration with the server's own privileges.
    """
    mode = settings.ATLAS_RUN_SANDBOX.strip().lower()
    if mode not in ("bwrap", "none"):
        raise ImproperlyConfigured(f"ATLAS_RUN_SANDBOX must be bwrap or none, got {mode!r}")
    return mode


def network_mode():
    """`auto`, `isolated` or `host` (see runs.network)."""
    mode = settings.ATLAS_RUN_NETWORK.strip().lower()
    if mode not in NETWORK_MODES:
        raise ImproperlyConfigured(
            f"ATLAS_RUN_NETWORK must be one of {', '.join(NETWORK_MODES)}, got {mode!r}"
        )
    return mode


def run_address():
    """This server's API as the worker reaches it; Terraform inside a run
    reaches it only through the worker's relay (runs.relay)."""
    configured = settings.ATLAS_RUN_ADDRESS or settings.EXTERNAL_URL
    if configured:
        return configured.rstrip("/")
    return f"http://127.0.0.1:{settings.PORT}"


def work_root():
    """Where worker directories are made (default: the system's temporary directory)."""
    return settings.ATLAS_RUN_WORK_DIR or None
