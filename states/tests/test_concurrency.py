"""Concurrent writers of one state: exactly one wins, the rest get 409.

On PostgreSQL, threads of this process with a connection each, writes
really committed (`transactional_db`): the EnvironmentState row lock
serialises them. On SQLite, gunicorn processes on a database file, as the
embedded default runs: the IMMEDIATE transactions serialise them.
"""

import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest
from django.db import connection, connections

from conftest import api_client
from states.models import EnvironmentState, StateVersion

from .factories import md5_b64, put_state, state_bytes
from .server import gunicorn

WRITERS = 20


def race(token, url, bodies):
    """PUT every body at once from its own thread; the status codes, in order."""
    barrier = threading.Barrier(len(bodies))
    statuses = [None] * len(bodies)

    def write(index):
        try:
            client = api_client(token)
            barrier.wait(timeout=30)
            statuses[index] = put_state(client, url, bodies[index]).status_code
        except Exception as exc:  # reported in the assertion below
            statuses[index] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def check_one_winner(url, environment_name, statuses, bodies, personas, earlier=()):
    assert Counter(statuses) == {200: 1, 409: WRITERS - 1}, statuses
    winner = bodies[statuses.index(200)]
    assert personas.reader.client.get(url).content == winner
    state = EnvironmentState.objects.select_related("head").get(environment__name=environment_name)
    history = StateVersion.objects.filter(environment_id=state.pk).order_by("serial")
    assert [v.md5 for v in history] == [*earlier, state.head.md5]
    assert state.head.serial == state.max_serial


def run_same_serial_race(personas):
    url = "/api/v1/terraform/state/acme/raced"
    first = state_bytes(serial=1)
    assert put_state(personas.writer.client, url, first).status_code == 200
    earlier = [StateVersion.objects.get(serial=1).md5]
    bodies = [state_bytes(serial=2, outputs={"writer": str(i)}) for i in range(WRITERS)]
    statuses = race(personas.writer.token, url, bodies)
    check_one_winner(url, "raced", statuses, bodies, personas, earlier)


def run_first_write_race(personas):
    """No environment, no state row yet: creation races too."""
    url = "/api/v1/terraform/state/acme/fresh"
    bodies = [state_bytes(serial=1, outputs={"writer": str(i)}) for i in range(WRITERS)]
    statuses = race(personas.writer.token, url, bodies)
    check_one_winner(url, "fresh", statuses, bodies, personas)


def require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL row locks are under test: run with DATABASE_URL=postgres://... "
            f"(this run uses {connection.vendor})"
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_writers_with_the_same_serial_on_postgresql(personas):
    require_postgres()
    run_same_serial_race(personas)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_first_writers_of_a_new_environment_on_postgresql(personas):
    require_postgres()
    run_first_write_race(personas)


def http_put(base, token, path, body):
    request = urllib.request.Request(
        f"{base}{path}",
        data=body,
        method="PUT",
        headers={
            "X-Atlas-Token": token,
            "Content-Type": "application/json",
            "Content-MD5": md5_b64(body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def http_race(base, token, path, bodies):
    barrier = threading.Barrier(len(bodies))
    statuses = [None] * len(bodies)

    def write(index):
        barrier.wait(timeout=30)
        statuses[index] = http_put(base, token, path, bodies[index])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def test_twenty_writers_through_gunicorn_on_a_sqlite_file(tmp_path):
    """The embedded default: several gunicorn processes, one SQLite file, WAL and
    IMMEDIATE transactions. (The in-memory SQLite of the other tests uses
    shared-cache table locks that fail instead of waiting, so it cannot show this.)"""
    with gunicorn(tmp_path / "data", workers=2, threads=10) as (base, token):
        for name, serial, earlier in (("fresh", 1, 0), ("raced", 2, 1)):
            path = f"/api/v1/terraform/state/admin/{name}"
            if earlier:
                assert http_put(base, token, path, state_bytes(serial=1)) == 200
            bodies = [state_bytes(serial=serial, outputs={"w": str(i)}) for i in range(WRITERS)]
            statuses = http_race(base, token, path, bodies)
            assert Counter(statuses) == {200: 1, 409: WRITERS - 1}, statuses
            winner = bodies[statuses.index(200)]
            request = urllib.request.Request(f"{base}{path}", headers={"X-Atlas-Token": token})
            assert urllib.request.urlopen(request, timeout=10).read() == winner
            request = urllib.request.Request(
                f"{base}{path}/versions", headers={"X-Atlas-Token": token}
            )
            history = json.loads(urllib.request.urlopen(request, timeout=10).read())
            assert [v["serial"] for v in history["versions"]] == list(range(serial, 0, -1))
            assert history["versions"][0]["md5"] == hashlib.md5(winner).hexdigest()
