"""Runs as the pages show them: the latest run of environments, what needs a
person's attention, recent runs, the runs of configuration versions.

Every query is restricted to environments the caller may read (the rule is
accounts.privileges'), and costs the same number of queries however many
rows it returns.
"""

from datetime import timedelta

from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from accounts.privileges import readable_environments_q
from environments.models import Environment, LockKind
from environments.selectors import latest_runnable_version

from .machine import ACTIVE
from .models import Run, Status

RELATED = ("environment__namespace", "configuration_version", "created_by", "confirmed_by")
ATTENTION_LIMIT = 10
RECENT_LIMIT = 8
# A lock a person or a client has held this long is probably forgotten.
STUCK_LOCK_AFTER = timedelta(hours=1)
# Errored runs stop asking for attention after a week, or once a later run
# of their environment exists.
ERRORED_FOR = timedelta(days=7)


def _readable(user):
    return readable_environments_q(
        user, namespace="environment__namespace", environment="environment"
    )


def can_queue(environment):
    """Whether a plan can be queued: something was pushed."""
    return latest_runnable_version(environment) is not None


def latest_run(environment):
    """The environment's newest run, or None."""
    return Run.objects.filter(environment=environment).select_related(*RELATED).first()


def latest_runs(environments):
    """`{environment id: its newest run}` for `environments`, in one query."""
    ids = [environment.pk for environment in environments]
    if not ids:
        return {}
    newest = Run.objects.filter(environment=OuterRef("pk")).order_by("-id").values("id")[:1]
    run_ids = Environment.objects.filter(pk__in=ids).annotate(run_id=Subquery(newest))
    runs = Run.objects.filter(pk__in=run_ids.values("run_id")).select_related(
        "created_by", "confirmed_by"
    )
    return {run.environment_id: run for run in runs}


def waiting_for_confirmation(user):
    """Planned runs that wait for a person, oldest first."""
    return (
        Run.objects.filter(_readable(user), status=Status.PLANNED)
        .select_related(*RELATED)
        .order_by("planned_at", "id")[:ATTENTION_LIMIT]
    )


def errored_recently(user, now=None):
    """Runs that errored in the last week and are still their environment's newest."""
    since = (now or timezone.now()) - ERRORED_FOR
    later = Run.objects.filter(environment=OuterRef("environment"), pk__gt=OuterRef("pk"))
    return (
        Run.objects.filter(_readable(user), status=Status.ERRORED, errored_at__gte=since)
        .exclude(Exists(later))
        .select_related(*RELATED)
        .order_by("-errored_at", "-id")[:ATTENTION_LIMIT]
    )


def stuck_locks(user, now=None):
    """Environments a person or a client has held locked for a long time."""
    before = (now or timezone.now()) - STUCK_LOCK_AFTER
    return (
        Environment.objects.filter(
            readable_environments_q(user), locked=True, locked_at__lte=before
        )
        .exclude(lock_kind=LockKind.RUN)
        .select_related("namespace", "locked_by")
        .order_by("locked_at")[:ATTENTION_LIMIT]
    )


def attention(user):
    """What needs `user`: runs waiting for confirmation, errored runs, stuck locks."""
    return {
        "waiting": list(waiting_for_confirmation(user)),
        "errored": list(errored_recently(user)),
        "locks": list(stuck_locks(user)),
    }


def recent_runs(user):
    return list(
        Run.objects.filter(_readable(user)).select_related(*RELATED).order_by("-id")[:RECENT_LIMIT]
    )


def dashboard(user):
    """What the dashboard shows of runs (`runs/_dashboard_runs.html`)."""
    needs = attention(user)
    recent = recent_runs(user)
    return {
        "attention": needs,
        "attention_count": sum(len(items) for items in needs.values()),
        "recent_runs": recent,
        "runs_active": any_active(recent) or bool(needs["waiting"]),
    }


def any_active(runs):
    return any(run is not None and run.status in ACTIVE for run in runs)


def runs_of_versions(versions):
    """`{configuration version id: [its runs, newest first]}`."""
    ids = [version.pk for version in versions]
    found = {}
    runs = Run.objects.filter(configuration_version_id__in=ids).only(
        "id", "status", "configuration_version_id"
    )
    for run in runs.order_by("-id"):
        found.setdefault(run.configuration_version_id, []).append(run)
    return found


def runs_by_id(environment, ids):
    """`{id: run}` of the environment's runs among `ids`."""
    ids = {int(i) for i in ids if i is not None}
    if not ids:
        return {}
    runs = Run.objects.filter(environment=environment, pk__in=ids).select_related(
        "created_by", "confirmed_by"
    )
    return {run.pk: run for run in runs}
