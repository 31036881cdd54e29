from django.apps import AppConfig


class AtlasConfig(AppConfig):
    name = "atlas"
    verbose_name = "Atlas server"

    def ready(self):
        from atlas.api import schema  # noqa: F401  registers the OpenAPI extensions
