"""Environments and configuration versions under /api/v1/.

`environments/<username>/<name>/plan` and `.../runs` belong to the runs app.
"""

from django.urls import path

from . import access, versions, views

environments = views.EnvironmentListViewSet.as_view({"get": "list", "post": "create"})
environment = views.EnvironmentViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)
variables = views.VariablesViewSet.as_view({"put": "update"})
lock = views.LockViewSet.as_view({"post": "lock"})
unlock = views.LockViewSet.as_view({"post": "unlock"})
latest = versions.VersionViewSet.as_view({"get": "latest"})
version_list = versions.VersionViewSet.as_view({"get": "list", "post": "create"})
progress = versions.VersionViewSet.as_view({"get": "progress"})
access_list = access.AccessViewSet.as_view({"get": "list"})
team_access = access.AccessViewSet.as_view({"put": "put_team", "delete": "delete_team"})
user_access = access.AccessViewSet.as_view({"put": "put_user", "delete": "delete_user"})

ENV = "environments/<str:username>/<str:name>"
CONF = "terraform/configurations/<str:username>/<str:name>/versions"

urlpatterns = [
    path("environments", environments, name="environments"),
    path(ENV, environment, name="environment"),
    path(f"{ENV}/variables", variables, name="variables"),
    path(f"{ENV}/lock", lock, name="lock"),
    path(f"{ENV}/unlock", unlock, name="unlock"),
    path(f"{ENV}/access", access_list, name="access"),
    path(f"{ENV}/access/teams/<str:team>", team_access, name="team-access"),
    path(f"{ENV}/access/users/<str:grantee>", user_access, name="user-access"),
    path(f"{CONF}/latest", latest, name="latest-version"),
    path(CONF, version_list, name="versions"),
    path(f"{CONF}/progress/<str:token>", progress, name="version-progress"),
    path(
        "terraform/configuration-uploads/<str:secret>",
        versions.UploadView.as_view(),
        name="configuration-upload",
    ),
]
