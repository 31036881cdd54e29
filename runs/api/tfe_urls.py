"""TFE v2 runs, plans, applies and their logs under /api/v2/."""

from django.urls import path

from . import tfe

RUN = "runs/<str:run_id>"

urlpatterns = [
    path("runs", tfe.RunsView.as_view(), name="runs"),
    path(RUN, tfe.RunView.as_view(), name="run"),
    path(f"{RUN}/run-events", tfe.RunEventsView.as_view(), name="run-events"),
    path(f"{RUN}/actions/apply", tfe.RunActionView.as_view(action_name="confirm"), name="apply"),
    path(
        f"{RUN}/actions/discard",
        tfe.RunActionView.as_view(action_name="discard"),
        name="discard",
    ),
    path(f"{RUN}/actions/cancel", tfe.RunActionView.as_view(action_name="cancel"), name="cancel"),
    path("workspaces/<str:workspace_id>/runs", tfe.WorkspaceRunsView.as_view(), name="ws-runs"),
    path("plans/<str:plan_id>", tfe.PlanView.as_view(), name="plan"),
    path("applies/<str:apply_id>", tfe.ApplyView.as_view(), name="apply-phase"),
    path("organizations/<str:organization>/runs/queue", tfe.RunQueueView.as_view(), name="queue"),
    path("organizations/<str:organization>/capacity", tfe.CapacityView.as_view(), name="capacity"),
    path("run-logs/<str:token>", tfe.log, name="log"),
]
