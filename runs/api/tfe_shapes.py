"""JSON:API shapes of runs, plans and applies as go-tfe reads them.

A run is `run-<id>`; its plan `plan-<id>` and apply `apply-<id>` are the
phases of the same run. Terraform's `remote` backend and `cloud` block need
`status`, `has-changes` (without it an apply silently never happens),
`actions`, `permissions.can-apply`, the `plan`/`apply`/`workspace`
relationships, and for plans and applies `status` and an absolute,
unauthenticated `log-read-url`.
"""

from django.core import signing
from django.urls import reverse

from accounts.models import Level
from accounts.privileges import at_least
from atlas.api.jsonapi import relation, resource, timestamp
from atlas.api.links import absolute_url
from environments.api.v2.configuration_versions import version_id
from environments.api.v2.shapes import workspace_id

from ..machine import ACTIONS, TERMINAL
from ..models import Phase, Status

PLANNED = frozenset(
    {
        Status.PLANNED,
        Status.CONFIRMED,
        Status.APPLYING,
        Status.APPLIED,
        Status.PLANNED_AND_FINISHED,
        Status.DISCARDED,
    }
)
LOG_SALT = "runs.tfe-log"
# A log URL works this long after it was handed out (a long apply included).
LOG_URL_SECONDS = 7 * 24 * 3600


def run_id(run):
    return f"run-{run.pk}"


def log_token(run, phase):
    return signing.TimestampSigner(salt=LOG_SALT).sign(f"{run.pk}.{phase}")


def read_log_token(token):
    """(run id, phase) of a log URL's token, or None when it is not ours or expired."""
    try:
        value = signing.TimestampSigner(salt=LOG_SALT).unsign(token, max_age=LOG_URL_SECONDS)
    except signing.BadSignature:
        return None
    number, _, phase = value.partition(".")
    if not number.isdigit() or phase not in Phase.values:
        return None
    return int(number), phase


def log_url(request, run, phase):
    path = reverse("runs-api-v2:log", kwargs={"token": log_token(run, phase)})
    return absolute_url(request, path)


def plan_status(run):
    """pending, running, finished, errored, canceled (go-tfe's plan statuses)."""
    if run.status == Status.PENDING:
        return "pending"
    if run.status == Status.PLANNING:
        return "running"
    if run.status in PLANNED or run.planned_at or run.planned_and_finished_at:
        return "finished"
    if run.status == Status.ERRORED:
        return "errored"
    if run.status == Status.CANCELED:
        return "canceled"
    return "pending"


def apply_status(run):
    """pending, queued, running, finished, errored, canceled, unreachable."""
    if run.status == Status.CONFIRMED:
        return "queued"
    if run.status == Status.APPLYING:
        return "running"
    if run.status == Status.APPLIED:
        return "finished"
    if run.confirmed_at is not None and run.status in (Status.ERRORED, Status.CANCELED):
        return str(run.status)
    if run.status in TERMINAL:
        return "unreachable"
    return "pending"


def phase_finished(run, phase):
    status = plan_status(run) if phase == Phase.PLAN else apply_status(run)
    return status in ("finished", "errored", "canceled", "unreachable")


def _counts(run):
    return {
        "resource-additions": run.resource_additions or 0,
        "resource-changes": run.resource_changes or 0,
        "resource-destructions": run.resource_destructions or 0,
        "resource-imports": 0,
    }


def run_status(run):
    """The run's status in TFE's words. An auto-applied run waiting for its
    apply is `apply_queued`, as TFE says: Terraform's CLI waits for the plan
    to start while a run is `pending` or `confirmed`, so `confirmed` would
    hold it back from following the plan until the apply had begun."""
    if run.status == Status.CONFIRMED and run.auto_applied:
        return "apply_queued"
    return str(run.status)


def run_resource(run, level):
    write = at_least(level, Level.WRITE)
    status = run.status
    confirmable = status in ACTIONS["confirm"] and not run.speculative
    auto_apply = run.environment.auto_apply if run.auto_apply is None else run.auto_apply
    attributes = {
        "status": run_status(run),
        "message": run.message or "",
        "source": "tfe-api" if run.source == "tfe-cli" else str(run.source),
        "is-destroy": run.destroy,
        "has-changes": bool(run.has_changes),
        "auto-apply": bool(auto_apply),
        "plan-only": run.speculative,
        "speculative": run.speculative,
        "refresh": True,
        "refresh-only": False,
        "terraform-version": run.terraform_version,
        "position-in-queue": 0,
        "created-at": timestamp(run.created_at),
        "status-timestamps": {
            f"{name.replace('_', '-')}-at": timestamp(moment)
            for name, moment in run.status_timestamps().items()
        },
        "actions": {
            "is-cancelable": status in ACTIONS["cancel"],
            "is-confirmable": confirmable,
            "is-discardable": status in ACTIONS["discard"] and not run.speculative,
            "is-force-cancelable": False,
        },
        "permissions": {
            "can-apply": write,
            "can-cancel": write,
            "can-discard": write,
            "can-force-execute": False,
            "can-force-cancel": False,
            "can-override-policy-check": False,
        },
        "variables": [],
        "target-addrs": None,
        "replace-addrs": None,
    }
    relationships = {
        "workspace": relation("workspaces", workspace_id(run.environment)),
        "configuration-version": relation(
            "configuration-versions", version_id(run.configuration_version)
        ),
        "plan": relation("plans", f"plan-{run.pk}"),
        "apply": relation("applies", f"apply-{run.pk}"),
    }
    return resource("runs", run_id(run), attributes, relationships=relationships)


def plan_resource(request, run):
    attributes = {
        "status": plan_status(run),
        "has-changes": bool(run.has_changes),
        "log-read-url": log_url(request, run, Phase.PLAN),
        "status-timestamps": {},
        **_counts(run),
    }
    return resource(
        "plans",
        f"plan-{run.pk}",
        attributes,
        relationships={"run": relation("runs", run_id(run))},
    )


def apply_resource(request, run):
    attributes = {
        "status": apply_status(run),
        "log-read-url": log_url(request, run, Phase.APPLY),
        "status-timestamps": {},
        **(_counts(run) if run.status == Status.APPLIED else {
            "resource-additions": 0,
            "resource-changes": 0,
            "resource-destructions": 0,
            "resource-imports": 0,
        }),
    }  # fmt: skip
    return resource(
        "applies",
        f"apply-{run.pk}",
        attributes,
        relationships={"run": relation("runs", run_id(run))},
    )
