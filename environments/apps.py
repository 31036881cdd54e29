from django.apps import AppConfig


class EnvironmentsConfig(AppConfig):
    name = "environments"

    def ready(self):
        from atlas.keys import register_sealed_values

        from . import crypto

        register_sealed_values("environment values", crypto.reseal_all, crypto.count_using_key)
