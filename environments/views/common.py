"""What every environment page needs: the environment, the caller's level."""

from django.urls import reverse

from accounts.models import Level
from accounts.privileges import at_least

from ..lookup import environment_for


def page_environment(request, username, name, needed=Level.READ):
    """(environment, context) for an environment page; 404 / 403 as the API does."""
    environment, level = environment_for(request, username, name, needed)
    context = {
        "environment": environment,
        "level": level,
        "can_write": at_least(level, Level.WRITE),
        "can_admin": at_least(level, Level.ADMIN),
    }
    return environment, context


def environment_url(environment, view="overview", **kwargs):
    return reverse(
        f"environments:{view}",
        kwargs={"username": environment.namespace.name, "name": environment.name, **kwargs},
    )
