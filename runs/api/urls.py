from django.urls import include, path

from . import views

urlpatterns = [
    path(
        "environments/<str:username>/<str:name>/plan",
        views.QueueRunView.as_view(),
        name="queue",
    ),
    path(
        "environments/<str:username>/<str:name>/runs",
        views.EnvironmentRunsView.as_view(),
        name="environment-runs",
    ),
    path("runs/<int:run_id>", views.RunView.as_view(), name="run"),
    *[
        path(
            f"runs/<int:run_id>/actions/{action}",
            views.RunActionView.as_view(action_name=action),
            name=f"run-{action}",
        )
        for action in ("confirm", "discard", "cancel")
    ],
    *[
        path(
            f"runs/<int:run_id>/logs/{phase}",
            views.RunLogView.as_view(phase=phase),
            name=f"run-log-{phase}",
        )
        for phase in ("plan", "apply")
    ],
    path("", include("runs.notifications.api.urls")),
]
