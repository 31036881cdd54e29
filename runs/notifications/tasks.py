"""The delivery task, on a queue of its own so that a notification never
waits behind a run's plan or apply (`worker.DeliveryThread` takes it)."""

from django_tasks import task

QUEUE = "notifications"


@task(queue_name=QUEUE)
def deliver(delivery_id):
    """One attempt at delivery `delivery_id`, if it is due and not taken."""
    from .delivery import deliver as attempt

    return attempt(delivery_id)
