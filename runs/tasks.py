"""The queue's tasks (Django's Tasks API, stored by django-tasks-db)."""

from django_tasks import task


@task()
def execute_run(run_id):
    """Execute the phase run `run_id` is ready for (plan or apply)."""
    from .executor import execute

    return execute(run_id)
