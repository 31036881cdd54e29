"""Web pages of runs, beneath their environment's pages."""

from django.urls import include, path

from . import views

ENV = "environments/<str:username>/<str:name>"
RUN = f"{ENV}/runs/<int:run_id>"

urlpatterns = [
    path("dashboard/runs", views.dashboard_runs, name="dashboard-runs"),
    path(f"{ENV}/runs", views.run_list, name="list"),
    path(f"{ENV}/runs/latest", views.latest, name="latest"),
    path(f"{ENV}/runs/queue", views.queue, name="queue"),
    path(f"{ENV}/runs/destroy", views.queue_destroy, name="queue-destroy"),
    path(RUN, views.run_detail, name="detail"),
    path(
        "app/<str:username>/<str:name>/runs/<str:tfe_run_id>",
        views.tfe_run_link,
        name="tfe-link",
    ),
    path(f"{RUN}/live", views.run_live, name="live"),
    path(f"{RUN}/logs/<str:phase>", views.run_log, name="log"),
    path(f"{RUN}/logs/<str:phase>/raw", views.run_log_raw, name="log-raw"),
    path(f"{RUN}/confirm", views.run_confirm, name="confirm"),
    path(f"{RUN}/discard", views.run_discard, name="discard"),
    path(f"{RUN}/cancel", views.run_cancel, name="cancel"),
    path("", include("runs.notifications.urls")),
]
