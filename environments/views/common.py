"""Helpers shared by the environment pages (access and context: `environments.lookup`)."""

from django.urls import reverse


def environment_url(environment, view="overview", **kwargs):
    return reverse(
        f"environments:{view}",
        kwargs={"username": environment.namespace.name, "name": environment.name, **kwargs},
    )
