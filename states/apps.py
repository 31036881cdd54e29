from django.apps import AppConfig


class StatesConfig(AppConfig):
    name = "states"

    def ready(self):
        from . import signals  # noqa: F401
