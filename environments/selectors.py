"""Queries the environment pages and the API both read: one place each."""

from django.db.models import OuterRef, Subquery

from .models import ConfigurationVersion


def with_latest_version(queryset):
    """Annotate `latest_version` (the highest version number) in the same query."""
    latest = (
        ConfigurationVersion.objects.filter(environment=OuterRef("pk"))
        .order_by("-number")
        .values("number")[:1]
    )
    return queryset.select_related("namespace", "locked_by").annotate(
        latest_version=Subquery(latest)
    )


def latest_version(environment):
    """The newest configuration version, whatever its status (push reads it)."""
    return environment.configuration_versions.select_related("created_by").first()


def latest_runnable_version(environment):
    """The newest version a run can use: finished, with its archive stored."""
    return (
        ConfigurationVersion.objects.filter(
            environment=environment, status=ConfigurationVersion.Status.FINISHED
        )
        .exclude(archive_name="")
        .order_by("-number")
        .first()
    )
