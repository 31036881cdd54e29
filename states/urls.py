"""Web pages under an environment's page (the environments app owns the rest)."""

from django.urls import path

from . import views

ENV = "environments/<str:username>/<str:name>/state"

urlpatterns = [
    path(ENV, views.state_page, name="state"),
    path(f"{ENV}/diff", views.diff_page, name="diff"),
    path(f"{ENV}/versions/<int:serial>/download", views.download, name="download"),
    path(f"{ENV}/versions/<int:serial>/rollback", views.rollback, name="rollback"),
]
