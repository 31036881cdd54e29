from django.urls import path

from . import views

BASE = "environments/<str:username>/<str:name>/notifications"

urlpatterns = [
    path(BASE, views.NotificationsView.as_view(), name="notifications"),
    path(f"{BASE}/<int:pk>", views.NotificationView.as_view(), name="notification"),
    path(f"{BASE}/<int:pk>/test", views.NotificationTestView.as_view(), name="notification-test"),
    path(
        f"{BASE}/<int:pk>/deliveries",
        views.DeliveriesView.as_view(),
        name="notification-deliveries",
    ),
]
