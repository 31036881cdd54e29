"""Web pages of environments. `.../state` belongs to the states app and
`.../runs` to the runs app."""

from django.urls import path

from .views import access, actions, pages

ENV = "environments/<str:username>/<str:name>"

urlpatterns = [
    path("environments", pages.environment_list, name="list"),
    path("environments/new", actions.create_environment, name="create"),
    path(ENV, pages.overview, name="overview"),
    path(f"{ENV}/variables", pages.variables, name="variables"),
    path(f"{ENV}/variables/new", actions.add_variable, name="variable-add"),
    path(f"{ENV}/variables/<int:pk>/edit", actions.edit_variable, name="variable-edit"),
    path(f"{ENV}/variables/<int:pk>/delete", actions.delete_variable, name="variable-delete"),
    path(f"{ENV}/versions", pages.versions, name="versions"),
    path(f"{ENV}/versions/<int:number>/archive", pages.version_archive, name="version-archive"),
    path(f"{ENV}/settings", pages.settings_page, name="settings"),
    path(f"{ENV}/settings/auto-apply", actions.set_auto_apply, name="auto-apply"),
    path(f"{ENV}/settings/execution-mode", actions.set_execution_mode, name="execution-mode"),
    path(f"{ENV}/settings/lock", actions.lock, name="lock"),
    path(f"{ENV}/settings/unlock", actions.unlock, name="unlock"),
    path(f"{ENV}/settings/force-unlock", actions.force_unlock, name="force-unlock"),
    path(f"{ENV}/settings/delete", actions.delete_environment, name="delete"),
    path(f"{ENV}/access", access.access, name="access"),
    path(f"{ENV}/access/teams", access.grant_team, name="grant-team"),
    path(f"{ENV}/access/users", access.grant_user, name="grant-user"),
    path(
        f"{ENV}/access/<str:kind>/<str:who>/level",
        access.grant_level,
        name="grant-level",
    ),
    path(
        f"{ENV}/access/<str:kind>/<str:who>/remove",
        access.grant_remove,
        name="grant-remove",
    ),
]
