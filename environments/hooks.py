"""Where the environments app hands over to the runs app (runs.queue).

Each is called after the transaction that caused it has committed, never
inside it, so the runs app may enqueue work that reads the committed rows.
The imports are deferred because the runs app imports the environments app.
"""


def configuration_version_finished(version):
    """A configuration version's archive was accepted and stored.

    The runs app queues a plan run for `version` here (the contract: "On
    success the version is finished and a plan run is queued automatically").
    """
    from runs.models import Source
    from runs.queue import queue_run

    if version.auto_queue_runs:
        queue_run(version.environment, version.created_by, version=version, source=Source.PUSH)


def environment_unlocked(environment):
    """The holder of a hand-made lock released it: queued runs may start."""
    from runs.queue import environment_unlocked

    environment_unlocked(environment)


def environment_force_unlocked(environment, user, previous_holder, reason):
    """An admin force-unlocked `environment`, whose lock `previous_holder`
    (a username, or "a run") held. The runs app records this in the log of the
    run that held the lock."""
    from runs.queue import lock_forced_open

    lock_forced_open(environment, user, previous_holder, reason)
