from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AtlasConfig(AppConfig):
    name = "atlas"
    verbose_name = "Atlas server"

    def ready(self):
        from atlas.api import schema  # noqa: F401  registers the OpenAPI extensions


class AtlasAdminConfig(admin_apps.AdminConfig):
    """Django admin on a site whose sign-in goes through the failure throttle."""

    default = False  # named in INSTALLED_APPS; `atlas` itself is AtlasConfig
    default_site = "atlas.admin_site.AtlasAdminSite"
