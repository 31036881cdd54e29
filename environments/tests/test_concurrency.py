"""Concurrent pushes on PostgreSQL: distinct version numbers, one upload per secret."""

import threading

import pytest
from django.db import connection, connections

from environments import services
from environments.services import UploadNotFound, claim_upload
from environments.tests.factories import ConfigurationVersionFactory, EnvironmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10


def require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("Row locks are under test: run with DATABASE_URL=postgres://...")


def race(work):
    """Run `work(index)` in THREADS threads released together; their results."""
    barrier = threading.Barrier(THREADS)
    results = [None] * THREADS

    def run(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:  # collected for the assertion
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_pushes_get_distinct_numbers(personas):
    require_postgres()
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    results = race(
        lambda i: services.create_version(
            environment, None, {}, [{"key": "who", "value": str(i), "hcl": False}]
        )[0].number
    )
    assert sorted(results) == list(range(1, THREADS + 1))
    assert environment.variables.count() == 1


def test_an_upload_secret_is_claimed_exactly_once(personas):
    require_postgres()
    version = ConfigurationVersionFactory(
        environment=EnvironmentFactory(namespace=personas.org.namespace, name="app")
    )
    results = race(lambda i: claim_upload(version.secret).pk)
    assert results.count(version.pk) == 1
    assert sum(isinstance(r, UploadNotFound) for r in results) == THREADS - 1
