"""The environments app's domain rules, called by both the API and the web UI.

- `environments`: create, settings, delete, lock and unlock;
- `variables`: variable names and sizes, bulk updates, web edits, push's tf_vars;
- `versions`: configuration versions and their upload secrets;
- `uploads`: receiving an archive at its one-time URL.
"""

from .environments import (
    TAKEN,
    LockError,
    delete_environment,
    lock_environment,
    new_environment,
    set_auto_apply,
    set_execution_mode,
    unlock_environment,
)
from .uploads import (
    ArchiveTooLarge,
    BadUpload,
    UploadError,
    UploadNotFound,
    claim_upload,
    receive_upload,
)
from .variables import (
    MAX_VALUE_BYTES,
    REDACTED,
    delete_variable,
    save_variable,
    tf_vars_for_push,
    update_terraform_variables,
)
from .versions import (
    create_version,
    expire_stale_uploads,
    parse_version_request,
    version_by_secret,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "REDACTED",
    "TAKEN",
    "ArchiveTooLarge",
    "BadUpload",
    "LockError",
    "UploadError",
    "UploadNotFound",
    "claim_upload",
    "create_version",
    "delete_environment",
    "delete_variable",
    "expire_stale_uploads",
    "lock_environment",
    "new_environment",
    "parse_version_request",
    "receive_upload",
    "save_variable",
    "set_auto_apply",
    "set_execution_mode",
    "tf_vars_for_push",
    "unlock_environment",
    "update_terraform_variables",
    "version_by_secret",
]
