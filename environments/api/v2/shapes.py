"""JSON:API shapes of organizations, entitlements and workspaces, as go-tfe reads them."""

from django.db.models import OuterRef, Subquery

from accounts.models import Level
from accounts.privileges import at_least
from atlas.api.jsonapi import relation, resource, timestamp

from ...lookup import WORKSPACE_PREFIX
from ...models import ExecutionMode, LockKind

DEFAULT_TERRAFORM_VERSION = "latest"


def workspace_id(environment):
    return f"{WORKSPACE_PREFIX}{environment.pk}"


def organization_resource(namespace, level):
    admin = at_least(level, Level.ADMIN)
    return resource(
        "organizations",
        namespace.name,
        {
            "name": namespace.name,
            "email": getattr(getattr(namespace, "organization", None), "email", "") or "",
            "created-at": timestamp(namespace.created_at),
            "external-id": namespace.name,
            "permissions": {
                "can-create-workspace": at_least(level, Level.WRITE),
                "can-update": admin,
                "can-destroy": False,
                "can-create-team": False,
                "can-manage-users": admin,
            },
        },
    )


def entitlements_resource(namespace):
    """State storage and remote operations (runs on this server's workers)."""
    return resource(
        "entitlement-sets",
        namespace.name,
        {
            "operations": True,
            "state-storage": True,
            "private-module-registry": False,
            "sentinel": False,
            "teams": False,
            "vcs-integrations": False,
            "agents": False,
            "audit-logging": False,
            "cost-estimation": False,
            "sso": False,
            "run-tasks": False,
        },
    )


def permissions(level):
    read, write, admin = (at_least(level, needed) for needed in Level)
    return {
        "can-update": admin,
        "can-destroy": admin,
        "can-force-delete": admin,
        "can-queue-run": write,
        "can-queue-apply": write,
        "can-queue-destroy": write,
        "can-read-settings": read,
        "can-lock": write,
        "can-unlock": write,
        "can-force-unlock": admin,
        "can-read-state-versions": read,
        "can-create-state-versions": write,
        "can-read-state-outputs": read,
        "can-read-variable": write,
        "can-update-variable": write,
        "can-manage-run-tasks": False,
    }


def current_run(environment):
    """(id, status) of the workspace's current run: the one holding it, else
    the latest; (None, None) when it has none. Lists annotate both
    (`with_current_run`) rather than asking per workspace."""
    if hasattr(environment, "current_run_id"):
        return environment.current_run_id, environment.current_run_status
    from runs.models import Run

    found = (
        Run.objects.filter(environment=environment, speculative=False)
        .order_by("-holds_lock", "-id")
        .values_list("pk", "status")
        .first()
    )
    return found or (None, None)


def with_current_run(environments):
    """`environments` (a queryset) annotated for `current_run`."""
    from runs.models import Run

    runs = Run.objects.filter(environment=OuterRef("pk"), speculative=False).order_by(
        "-holds_lock", "-id"
    )
    return environments.annotate(
        current_run_id=Subquery(runs.values("pk")[:1]),
        current_run_status=Subquery(runs.values("status")[:1]),
    )


def workspace_resource(environment, level):
    """A workspace. `environment` needs its namespace (and `locked_by`) loaded.

    `locked` is true for a lock taken by hand, and for a run's hold once the
    run has started: clients read a locked workspace whose current run is
    still pending as "manually locked".
    """
    run_id, run_status = current_run(environment)
    remote = environment.execution_mode == ExecutionMode.REMOTE
    held_by_run = environment.locked and environment.lock_kind in ("", LockKind.RUN)
    locked = environment.locked and not (
        held_by_run and environment.locked_by_id is None and run_status == "pending"
    )
    relationships = {"organization": relation("organizations", environment.namespace.name)}
    relationships["current-run"] = relation("runs", f"run-{run_id}" if run_id else None)
    return resource(
        "workspaces",
        workspace_id(environment),
        {
            "name": environment.name,
            "description": "",
            "locked": locked,
            "execution-mode": environment.execution_mode,
            "operations": remote,
            "terraform-version": environment.terraform_version or DEFAULT_TERRAFORM_VERSION,
            "auto-apply": environment.auto_apply,
            "allow-destroy-plan": True,
            "created-at": timestamp(environment.created_at),
            "updated-at": timestamp(environment.updated_at),
            "environment": "default",
            "file-triggers-enabled": False,
            "global-remote-state": False,
            "queue-all-runs": False,
            "speculative-enabled": False,
            "structured-run-output-enabled": False,
            "source": "tfe-api",
            "tag-names": [],
            "trigger-prefixes": [],
            "trigger-patterns": [],
            "working-directory": "",
            "vcs-repo": None,
            "resource-count": 0,
            "permissions": permissions(level),
            "actions": {"is-destroyable": at_least(level, Level.ADMIN)},
        },
        relationships=relationships,
    )
