"""Root URLs: /api/v1 and /api/v2 from each app's api/ modules, discovery, the web UI,
admin, docs."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.api.v2 import AccountDetailsView
from atlas import views
from atlas.api.discovery import PingView, discovery

api_v1 = [
    # The state first: Terraform's every command reads it, and Django tries
    # the patterns in order (no other app's pattern starts with terraform/).
    path("", include(("states.api.urls", "states"), namespace="states-api")),
    path("", include(("accounts.api.urls", "accounts"), namespace="accounts-api")),
    path("", include(("environments.api.urls", "environments"), namespace="environments-api")),
    path("", include(("runs.api.urls", "runs"), namespace="runs-api")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
]

api_v2 = [
    path("ping", PingView.as_view(), name="ping"),
    path("account/details", AccountDetailsView.as_view(), name="account-details"),
    path(
        "", include(("environments.api.v2.urls", "environments"), namespace="environments-api-v2")
    ),
    path("", include(("states.api.v2_urls", "states"), namespace="states-api-v2")),
    path("", include(("runs.api.tfe_urls", "runs"), namespace="runs-api-v2")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/v2/", include(api_v2)),
    re_path(r"^api/v2/", views.api_v2_not_found),
    re_path(r"^api/", views.api_not_found),
    path(".well-known/terraform.json", discovery, name="discovery"),
    # Swagger UI with its init script served apart: no inline code for the CSP.
    path("api-docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("healthz", views.health, name="health"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("", include(("accounts.urls", "accounts"), namespace="accounts")),
    path("", include(("environments.urls", "environments"), namespace="environments")),
    path("", include(("states.urls", "states"), namespace="states")),
    path("", include(("runs.urls", "runs"), namespace="runs")),
]

handler400 = "atlas.views.handler400"
handler403 = "atlas.views.handler403"
handler404 = "atlas.views.handler404"
handler500 = "atlas.views.handler500"
