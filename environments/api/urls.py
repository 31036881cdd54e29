"""Environments and configuration versions under /api/v1/.

`environments/<username>/<name>/plan` and `.../runs` belong to the runs app.
"""

from django.urls import path

from . import versions, views

environments = views.EnvironmentViewSet.as_view({"get": "list", "post": "create"})
environment = views.EnvironmentViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)
variables = views.VariablesViewSet.as_view({"put": "update"})
lock = views.LockViewSet.as_view({"post": "lock"})
unlock = views.LockViewSet.as_view({"post": "unlock"})
latest = versions.VersionViewSet.as_view({"get": "latest"})
version_list = versions.VersionViewSet.as_view({"get": "list", "post": "create"})
progress = versions.VersionViewSet.as_view({"get": "progress"})

ENV = "environments/<str:username>/<str:name>"
CONF = "terraform/configurations/<str:username>/<str:name>/versions"

urlpatterns = [
    path("environments", environments, name="environments"),
    path(ENV, environment, name="environment"),
    path(f"{ENV}/variables", variables, name="variables"),
    path(f"{ENV}/lock", lock, name="lock"),
    path(f"{ENV}/unlock", unlock, name="unlock"),
    path(f"{CONF}/latest", latest, name="latest-version"),
    path(CONF, version_list, name="versions"),
    path(f"{CONF}/progress/<str:token>", progress, name="version-progress"),
    path(
        "terraform/configuration-uploads/<str:secret>",
        versions.UploadView.as_view(),
        name="configuration-upload",
    ),
]
