"""TFE v2 organizations and workspaces under /api/v2/."""

from django.urls import path

from . import configuration_versions, views

ORG = "organizations/<str:organization>"
WS = "workspaces/<str:workspace_id>"

urlpatterns = [
    path(ORG, views.OrganizationView.as_view(), name="organization"),
    path(f"{ORG}/entitlement-set", views.EntitlementsView.as_view(), name="entitlements"),
    path(f"{ORG}/workspaces", views.WorkspaceListView.as_view(), name="workspaces"),
    path(f"{ORG}/workspaces/<str:name>", views.NamedWorkspaceView.as_view(), name="named"),
    path(WS, views.WorkspaceView.as_view(), name="workspace"),
    path(f"{WS}/actions/lock", views.LockView.as_view(), name="lock"),
    path(f"{WS}/actions/unlock", views.UnlockView.as_view(), name="unlock"),
    path(f"{WS}/actions/force-unlock", views.ForceUnlockView.as_view(), name="force-unlock"),
    path(f"{WS}/actions/safe-delete", views.SafeDeleteView.as_view(), name="safe-delete"),
    path(f"{WS}/vars", views.VariablesView.as_view(), name="vars"),
    path(
        f"{WS}/configuration-versions",
        configuration_versions.WorkspaceVersionsView.as_view(),
        name="configuration-versions",
    ),
    path(
        "configuration-versions/<str:version_id>",
        configuration_versions.VersionView.as_view(),
        name="configuration-version",
    ),
    path(
        "configuration-uploads/<str:secret>",
        configuration_versions.upload,
        name="configuration-upload",
    ),
]
