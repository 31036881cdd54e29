"""TFE v2 state versions, their outputs and upload URLs under /api/v2/."""

from django.urls import path

from . import v2

WS = "workspaces/<str:workspace_id>"

urlpatterns = [
    path(f"{WS}/state-versions", v2.StateVersionsView.as_view(), name="create"),
    path(f"{WS}/current-state-version", v2.CurrentStateVersionView.as_view(), name="current"),
    path(
        f"{WS}/current-state-version-outputs",
        v2.CurrentOutputsView.as_view(),
        name="current-outputs",
    ),
    path("state-versions/<str:version_id>", v2.StateVersionView.as_view(), name="version"),
    path("state-versions/<str:version_id>/download", v2.DownloadView.as_view(), name="download"),
    path(
        "state-versions/<str:version_id>/outputs", v2.VersionOutputsView.as_view(), name="outputs"
    ),
    path("state-version-outputs/<str:output_id>", v2.OutputView.as_view(), name="output"),
    path("state-uploads/<str:secret>", v2.upload, name="upload"),
    path("state-uploads/<str:secret>/json", v2.upload_json, name="upload-json"),
]
