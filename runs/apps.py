from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"

    def ready(self):
        from django_tasks_db.compat import task_enqueued

        from atlas.keys import register_sealed_values

        from .wakeup import notify_enqueued

        task_enqueued.connect(notify_enqueued, dispatch_uid="runs-wake-workers")

        from .notifications import sealing

        register_sealed_values(
            "notification URLs and secrets", sealing.reseal_all, sealing.count_using_key
        )
