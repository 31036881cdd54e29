"""JSON:API shapes of organizations, entitlements and workspaces, as go-tfe reads them."""

from accounts.models import Level
from accounts.privileges import at_least
from atlas.api.jsonapi import relation, resource, timestamp

from ...lookup import WORKSPACE_PREFIX

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
    """Local execution only: state storage, no remote operations."""
    return resource(
        "entitlement-sets",
        namespace.name,
        {
            "operations": False,
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
        "can-queue-run": False,
        "can-queue-apply": False,
        "can-queue-destroy": False,
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


def workspace_resource(environment, level):
    """A workspace. `environment` needs its namespace (and `locked_by`) loaded."""
    return resource(
        "workspaces",
        workspace_id(environment),
        {
            "name": environment.name,
            "description": "",
            "locked": environment.locked,
            "execution-mode": "local",
            "operations": False,
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
            "structured-run-output-enabled": True,
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
        relationships={"organization": relation("organizations", environment.namespace.name)},
    )
