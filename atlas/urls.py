"""Root URLs: /api/v1 from each app's api/urls.py, the web UI, admin, docs."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from atlas import views

api_v1 = [
    path("", include(("accounts.api.urls", "accounts"), namespace="accounts-api")),
    path("", include(("environments.api.urls", "environments"), namespace="environments-api")),
    path("", include(("states.api.urls", "states"), namespace="states-api")),
    path("", include(("runs.api.urls", "runs"), namespace="runs-api")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    re_path(r"^api/", views.api_not_found),
    # Swagger UI with its init script served apart: no inline code for the CSP.
    path("api-docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("healthz", views.health, name="health"),
    path("", include(("accounts.urls", "accounts"), namespace="accounts")),
    path("", include(("environments.urls", "environments"), namespace="environments")),
    path("", include(("states.urls", "states"), namespace="states")),
    path("", include(("runs.urls", "runs"), namespace="runs")),
]

handler400 = "atlas.views.handler400"
handler403 = "atlas.views.handler403"
handler404 = "atlas.views.handler404"
handler500 = "atlas.views.handler500"
