from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from atlas.keys import register_sealed_values

        from . import signals, twofactor  # noqa: F401  signals frees a deleted owner's name

        register_sealed_values(
            "two-factor secrets", twofactor.reseal_all, twofactor.count_using_key
        )
