from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"

    def ready(self):
        from atlas.keys import register_sealed_values

        from .notifications import sealing

        register_sealed_values(
            "notification URLs and secrets", sealing.reseal_all, sealing.count_using_key
        )
