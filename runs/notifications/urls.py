"""The Integrations tab's pages, beneath their environment."""

from django.urls import path

from . import views

BASE = "environments/<str:username>/<str:name>/integrations"
ONE = f"{BASE}/<int:pk>"

urlpatterns = [
    path(BASE, views.integrations, name="integrations"),
    path(f"{BASE}/new", views.add, name="integration-add"),
    path(ONE, views.detail, name="integration"),
    path(f"{ONE}/deliveries", views.deliveries, name="integration-deliveries"),
    path(f"{ONE}/edit", views.edit, name="integration-edit"),
    path(f"{ONE}/test", views.test, name="integration-test"),
    path(f"{ONE}/delete", views.delete, name="integration-delete"),
]
