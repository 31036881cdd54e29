from django.urls import path

from . import views

prefix = "terraform/state/<str:username>/<str:name>"

urlpatterns = [
    path("terraform/state", views.StateListView.as_view(), name="states"),
    path(prefix, views.StateView.as_view(), name="state"),
    path(f"{prefix}/lock", views.HttpLockView.as_view(), name="state-lock"),
    path(f"{prefix}/versions", views.VersionListView.as_view(), name="versions"),
    path(f"{prefix}/versions/<int:serial>", views.VersionView.as_view(), name="version"),
    path(
        f"{prefix}/versions/<int:serial>/rollback",
        views.RollbackView.as_view(),
        name="rollback",
    ),
]
