"""The runs app's settings, with their defaults in one place.

Each setting is read from Django settings when the project defines it, else
from the environment variable of the same name, else the default below, so
a worker started by a test (or an operator) can be tuned with environment
variables alone. Bad values fail loudly.
"""

import os
import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    # Seconds between a running run's heartbeats, and how old the last one may
    # be before the reaper decides its worker died.
    "ATLAS_RUN_HEARTBEAT_SECONDS": 5,
    "ATLAS_RUN_STALE_SECONDS": 60,
    # How often each worker's reaper looks for dead runs and stuck queues.
    "ATLAS_RUN_REAP_SECONDS": 10,
    # After an interrupt, how long Terraform gets to stop before it is killed.
    "ATLAS_RUN_CANCEL_GRACE_SECONDS": 10,
    # A phase that runs longer than this is interrupted and errored (0: never).
    "ATLAS_RUN_PHASE_TIMEOUT_SECONDS": 4 * 3600,
    # A planned run awaiting confirmation is discarded after this long
    # (0: never), so a forgotten plan does not hold the environment forever.
    "ATLAS_RUN_CONFIRM_TIMEOUT_SECONDS": 24 * 3600,
    # How long a run token lives at most, even if nothing revokes it.
    "ATLAS_RUN_TOKEN_TTL_SECONDS": 12 * 3600,
}


def _from_environment(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    return raw


def setting(name):
    """The value of one runs setting (see DEFAULTS and the functions below)."""
    if hasattr(settings, name):
        return getattr(settings, name)
    return _from_environment(name, DEFAULTS.get(name, ""))


def terraform_binary():
    """The Terraform executable: ATLAS_TERRAFORM_BIN, else the real binary
    that `terraform-binary` installs (its `bin/terraform` is a Python wrapper
    that execs `<prefix>/lib/terraform`; the sandbox needs the binary itself)."""
    configured = setting("ATLAS_TERRAFORM_BIN")
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
    mode = (setting("ATLAS_RUN_SANDBOX") or "bwrap").strip().lower()
    if mode not in ("bwrap", "none"):
        raise ImproperlyConfigured(f"ATLAS_RUN_SANDBOX must be bwrap or none, got {mode!r}")
    return mode


def run_address():
    """The URL Terraform uses to reach this server from inside a run."""
    configured = setting("ATLAS_RUN_ADDRESS") or getattr(settings, "EXTERNAL_URL", "")
    if configured:
        return configured.rstrip("/")
    return f"http://127.0.0.1:{getattr(settings, 'PORT', 8000)}"


def work_root():
    """Where per-phase temporary directories are made (default: the system's)."""
    return setting("ATLAS_RUN_WORK_DIR") or None
