"""Terraform's `http` backend, at the environment's own state URL.

`address = <base>/api/v1/terraform/state/<namespace>/<name>` serves every
Terraform since 0.9 (and OpenTofu): GET reads the head (as for the atlas
backend), POST writes it (`?ID=<lock id>` while the client holds the lock),
LOCK and UNLOCK take and release the environment's one lock (Terraform's
default methods, with `lock_address = unlock_address = address`), and
`<address>/lock` takes POST and DELETE for the same (GitLab's style).

Locking answers exactly as the client needs: 200 on success, and on a
conflict 409 with the holder's LockInfo as the JSON body (Terraform prints
it). An unlock whose body is empty (Terraform's `force-unlock`) or has no
creation time (OpenTofu's) is a force-unlock: the holder may release their
own lock that way, anyone else needs admin, like the UI's force-unlock. A
full LockInfo with another lock's ID is a stale client and is refused.
"""

from django.http import JsonResponse
from rest_framework.exceptions import ParseError

from accounts.access import demand
from accounts.models import Level
from atlas.api.parsers import decode_json
from environments import locking, services
from environments.lookup import saved
from environments.models import LockKind
from states.intake import read_body

MAX_LOCK_INFO_BYTES = 64 * 1024
MAX_LOCK_ID = 255


def lock_id_param(request):
    """The `?ID=` of a write while the client holds the lock, or None."""
    value = request.query_params.get("ID")
    if value is None or value == "":
        return None
    if len(value) > 255:
        raise ParseError({"ID": ["must be at most 255 characters"]})
    return value


def _lock_info_body(request, required):
    body = bytes(read_body(request, limit=MAX_LOCK_INFO_BYTES))
    if not body.strip():
        if required:
            raise ParseError("The body must be Terraform's LockInfo as JSON.")
        return None
    data = decode_json(body)
    if data is None and not required:
        return None
    info = locking.parse_lock_info(data)
    if info is None:
        raise ParseError("The body must be Terraform's LockInfo as a JSON object.")
    return info


def _holder_response(environment, status=409):
    """The holder's LockInfo, the body Terraform reads on a lock conflict."""
    return JsonResponse(locking.lock_info(environment) or {}, status=status)


def _client(info):
    version = info.get("Version") or ""
    return f"Terraform {version}".strip() if version else "Terraform"


def lock(request, environment):
    """LOCK (or GitLab's POST .../lock): take the lock with the client's LockInfo
    (on an environment the URL may just have named: created here)."""
    environment = saved(environment, request.user)
    info = _lock_info_body(request, required=True)
    if not info["ID"] or len(info["ID"]) > MAX_LOCK_ID:
        raise ParseError(
            {"ID": [f"The LockInfo must carry an ID of at most {MAX_LOCK_ID} characters."]}
        )
    if _already_held(environment, request.user, info["ID"]):
        return JsonResponse(info, status=200)  # a retried LOCK of a lock this client holds
    try:
        services.lock_environment(
            environment,
            request.user,
            info.get("Info") or "",
            kind=LockKind.HTTP,
            lock_id=info["ID"],
            operation=info.get("Operation") or "",
            info=info,
            client=_client(info),
        )
    except services.LockError as exc:
        return _holder_response(exc.environment)
    return JsonResponse(info, status=200)


def _already_held(environment, user, lock_id):
    return (
        environment.locked
        and environment.lock_kind == LockKind.HTTP
        and locking.holds(environment, user, lock_id)
    )


def _is_force(info):
    return info is None or info.get("Created") in ("", locking.ZERO_TIME)


def unlock(request, environment, level):
    """UNLOCK (or GitLab's DELETE .../lock): release the lock, or force it open
    (`level` is the caller's on the environment)."""
    info = _lock_info_body(request, required=False)
    lock_id = (info or {}).get("ID") or None
    if not environment.locked:
        return JsonResponse({"errors": {"base": ["The environment is not locked."]}}, status=409)
    own = locking.holds(environment, request.user, lock_id)
    force = False
    if not own:
        if not _is_force(info):
            return _holder_response(environment)
        demand(request, level, Level.ADMIN)
        force = True
    try:
        services.unlock_environment(
            environment,
            request.user,
            force=force,
            lock_id=None if force else lock_id,
            reason="force-unlock through the http backend" if force else "",
        )
    except services.LockError as exc:
        if exc.environment is not None and exc.environment.locked:
            return _holder_response(exc.environment)
        return JsonResponse({"errors": {"base": [str(exc)]}}, status=409)
    return JsonResponse(info or {}, status=200)
