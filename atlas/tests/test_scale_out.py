"""The scale-out shape on one machine: two web servers and two workers, each
its own process, on one PostgreSQL and one bucket (atlas.testing.cluster).

Clients speak HTTP to both web servers; nothing here touches the database
but through them, except PostgreSQL itself being stopped and started. The
tests share one cluster and run in order; each leaves two live workers.
"""

import hashlib
import os
import threading
import time
import uuid
from collections import Counter
from datetime import datetime

import pytest

from atlas.api.exceptions import DATABASE_UNAVAILABLE_MESSAGE
from atlas.testing.cluster import (
    Cluster,
    PrivatePostgres,
    call,
    history,
    postgres_bin_dir,
    put_state,
    state_body,
    wait_until,
)
from atlas.testing.s3 import create_bucket
from runs.tests.e2e import CHANGING, SlowServer, slow_configuration
from runs.tests.factories import archive

pytestmark = pytest.mark.system

TERMINAL = {"applied", "planned_and_finished", "discarded", "canceled", "errored"}
STALE_SECONDS = 6  # ATLAS_RUN_STALE_SECONDS of the cluster
REAP_SECONDS = 2  # ATLAS_RUN_REAP_SECONDS
# What run_worker logs when its database goes away: the queue's poll or the reaper.
OUTAGE_LOGGED = ("Database unavailable", "The reaper failed")


@pytest.fixture(scope="module")
def postgres():
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
    server = PrivatePostgres(bin_dir).init()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def cluster(postgres, s3_server, tmp_path_factory):
    bucket = f"atlas-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_server, bucket)
    cluster = Cluster(
        tmp_path_factory.mktemp("cluster"), postgres.create_database("atlas"), s3_server, bucket
    )
    cluster.migrate()
    cluster.token = cluster.create_user("ops", ["acme"])
    cluster.start_web()
    cluster.start_web()
    cluster.start_worker()
    cluster.start_worker()
    yield cluster
    cluster.stop()


def _api(cluster, server=0):
    return f"{cluster.webs[server].url}/api/v1"


def _ensure_two_workers(cluster):
    """What a supervisor (systemd's Restart=always) does for a worker that exited."""
    while sum(w.alive() for w in cluster.workers) < 2:
        cluster.start_worker()


# Concurrent state writers


def test_concurrent_writers_through_both_servers_get_one_winner_per_serial(cluster):
    """20 writers, half through each server, all PUT serial N+1 with their
    own body: one 200, nineteen 409, round after round; the first round also
    creates the environment. The history is exactly the winners."""
    slug, lineage, writers, rounds = "acme/contended", str(uuid.uuid4()), 20, 4
    winners = []
    for serial in range(1, rounds + 1):
        barrier = threading.Barrier(writers)
        answers = [None] * writers
        bodies = [state_body(serial, lineage, writer=i, round=serial) for i in range(writers)]

        def write(i, barrier=barrier, answers=answers, bodies=bodies):
            barrier.wait()
            answers[i] = put_state(cluster.webs[i % 2].url, cluster.token, slug, bodies[i])

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = Counter(answer.status for answer in answers)
        assert statuses == {200: 1, 409: writers - 1}, [a.body[:200] for a in answers]
        (winner,) = [bodies[i] for i, a in enumerate(answers) if a.status == 200]
        winners.append(winner)

    versions = history(cluster.webs[1].url, cluster.token, slug)
    assert [v["serial"] for v in versions] == list(range(1, rounds + 1))
    assert [v["md5"] for v in versions] == [hashlib.md5(w).hexdigest() for w in winners]
    for server in (0, 1):
        head = call("GET", f"{_api(cluster, server)}/terraform/state/{slug}", cluster.token)
        assert head.status == 200 and head.body == winners[-1]


# Runs on several environments


def _push(cluster, name, files, auto_apply=True):
    """Create (if needed) and upload a configuration; the upload queues a run."""
    api = _api(cluster)
    created = call(
        "POST",
        f"{api}/environments",
        cluster.token,
        {"environment": {"username": "acme", "name": name, "auto_apply": auto_apply}},
    )
    assert created.status in (201, 422), created.body
    version = call(
        "POST",
        f"{api}/terraform/configurations/acme/{name}/versions",
        cluster.token,
        {"version": {"metadata": {"source": "system test"}, "tf_vars": []}},
    )
    assert version.status == 201, version.body
    upload = call(
        "PUT",
        version.json()["upload_path"],
        body=archive(files),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert upload.status == 200, upload.body


def _runs(cluster, name):
    answer = call("GET", f"{_api(cluster, 1)}/environments/acme/{name}/runs", cluster.token)
    assert answer.status == 200, answer.body
    return sorted(answer.json()["runs"], key=lambda run: run["id"])


def _run(cluster, run_id, server=1):
    answer = call("GET", f"{_api(cluster, server)}/runs/{run_id}", cluster.token)
    assert answer.status == 200, answer.body
    return answer.json()["run"]


def _queue_plan(cluster, name, server=1):
    answer = call("POST", f"{_api(cluster, server)}/environments/acme/{name}/plan", cluster.token)
    assert answer.status == 200, answer.body
    return answer.json()["run"]["id"]


def _wait_for_runs(cluster, run_ids, statuses, timeout):
    def done():
        runs = [_run(cluster, run_id) for run_id in run_ids]
        return runs if all(run["status"] in statuses for run in runs) else None

    try:
        return wait_until(done, timeout, f"runs {run_ids} to be {'/'.join(sorted(statuses))}", 0.5)
    except AssertionError:
        states = {run_id: _run(cluster, run_id)["status"] for run_id in run_ids}
        raise AssertionError(f"runs did not finish: {states}\n{cluster.logs()}") from None


def _interval(run, end="applied"):
    stamps = run["status_timestamps"]
    return datetime.fromisoformat(stamps["planning_at"]), datetime.fromisoformat(
        stamps[f"{end}_at"]
    )


def test_runs_of_different_environments_overlap_and_of_one_environment_take_turns(cluster):
    """Three auto-apply environments, two runs each (the upload's and one
    queued by hand): all applied; different environments ran at the same
    time on the two workers, and one environment's runs one after the other."""
    names = ["net", "dns", "db"]
    for name in names:
        _push(cluster, name, {"main.tf": CHANGING})
        _queue_plan(cluster, name)
    by_env = {name: _runs(cluster, name) for name in names}
    assert all(len(runs) == 2 for runs in by_env.values()), by_env
    everything = [run["id"] for runs in by_env.values() for run in runs]
    finished = {run["id"]: run for run in _wait_for_runs(cluster, everything, TERMINAL, 150)}
    assert {run["status"] for run in finished.values()} == {"applied"}, finished

    for runs in by_env.values():
        first, second = (_interval(finished[run["id"]]) for run in runs)
        assert first[1] <= second[0], "two runs of one environment overlapped"
    overlaps = [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        for run_a in by_env[a]
        for run_b in by_env[b]
        if max(_interval(finished[run_a["id"]])[0], _interval(finished[run_b["id"]])[0])
        < min(_interval(finished[run_a["id"]])[1], _interval(finished[run_b["id"]])[1])
    ]
    assert overlaps, "no two environments' runs ran at the same time"
    assert len({run["worker"] for run in finished.values()}) >= 2
    state = call("GET", f"{_api(cluster)}/terraform/state/acme/net", cluster.token)
    assert state.status == 200 and b'"greeting"' in state.body


# A worker killed mid-run


def _processes_mentioning(text):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in command:
                found.append(command)
    return found


def test_a_worker_killed_mid_plan_errors_its_run_while_the_other_runs_finish(cluster):
    """`kill -9` of the worker planning a run (the real Terraform, held up
    reading a remote state from a server that never answers): the surviving
    worker's reaper errors the run within the stale bound, and the runs of
    other environments, queued meanwhile, are applied."""
    with SlowServer() as slow:
        _push(cluster, "slow", {"main.tf": slow_configuration(slow.url)}, auto_apply=False)
        (doomed,) = _runs(cluster, "slow")
        wait_until(
            lambda: _run(cluster, doomed["id"])["status"] == "planning",
            60,
            "the slow run to be planning",
        )
        assert slow.requests.wait(60), "Terraform never reached the slow server"
        for name in ("after1", "after2"):
            _push(cluster, name, {"main.tf": CHANGING})
        others = [run["id"] for name in ("after1", "after2") for run in _runs(cluster, name)]

        holder = _run(cluster, doomed["id"])["worker"]
        worker = cluster.worker_by_pid(int(holder.rsplit(":", 1)[1]))
        cluster.kill(worker)
        killed_at = time.monotonic()

        _wait_for_runs(cluster, [doomed["id"]], {"errored"}, 30)
        elapsed = time.monotonic() - killed_at
    # stale after 6 s, noticed by a reaper pass every 2 s, plus slack
    assert elapsed < STALE_SECONDS + REAP_SECONDS + 5, elapsed
    log = call("GET", f"{_api(cluster)}/runs/{doomed['id']}/logs/plan", cluster.token)
    assert b"stopped sending heartbeats" in log.body
    # bwrap --die-with-parent took the killed worker's Terraform with it.
    wait_until(
        lambda: not _processes_mentioning(f"atlas-run-{doomed['id']}-"),
        10,
        "the killed worker's Terraform to exit",
    )
    cluster.start_worker()
    finished = _wait_for_runs(cluster, others, TERMINAL, 120)
    assert {run["status"] for run in finished} == {"applied"}, finished
    # The environment is free again: its next run plans.
    _push(cluster, "slow", {"main.tf": CHANGING}, auto_apply=False)
    rerun = _runs(cluster, "slow")[-1]
    (rerun,) = _wait_for_runs(cluster, [rerun["id"]], {"planned", *TERMINAL}, 60)
    assert rerun["status"] == "planned"


# PostgreSQL restarted mid-traffic


class Loader(threading.Thread):
    """Reads and writes one environment's state, alternating web servers,
    until stopped; a write answered 503 is sent again, byte for byte."""

    def __init__(self, cluster, slug):
        super().__init__(daemon=True)
        self.cluster, self.slug = cluster, slug
        self.stopped = threading.Event()
        self.answers = []  # (method, Answer)
        self.accepted = []  # bodies answered 200, in order
        self.failures = []  # requests that got no HTTP answer at all

    def run(self):
        lineage, serial, pending, turn = str(uuid.uuid4()), 0, None, 0
        while not self.stopped.is_set():
            turn += 1
            base = self.cluster.webs[turn % 2].url
            try:
                read = call("GET", f"{base}/api/v1/terraform/state/{self.slug}", self.cluster.token)
                self.answers.append(("GET", read))
                pending = pending or state_body(serial + 1, lineage, turn=turn)
                base = self.cluster.webs[(turn + 1) % 2].url
                written = put_state(base, self.cluster.token, self.slug, pending)
                self.answers.append(("PUT", written))
            except OSError as exc:
                self.failures.append(repr(exc))
                continue
            if written.status == 200:
                self.accepted.append(pending)
                serial, pending = serial + 1, None
            time.sleep(0.01)


def _assert_clean_answer(method, answer):
    assert answer.status in (200, 404, 503), (method, answer.status, answer.body[:300])
    assert answer.status != 404 or method == "GET"
    if answer.status == 503:
        assert answer.content_type == "application/json", answer.body[:300]
        assert answer.json() == {"errors": {"base": [DATABASE_UNAVAILABLE_MESSAGE]}}
        assert int(answer.headers["retry-after"]) > 0


def test_a_database_restart_mid_traffic_is_answered_503_and_loses_nothing(cluster, postgres):
    """Loaders keep reading and writing through both servers while
    PostgreSQL stops for two seconds and starts again: each request is
    answered 200 or a JSON 503 (never a 500 or an HTML page); afterwards
    both servers serve again, the history holds exactly the writes that were
    answered 200, the workers are still running and a run goes through."""
    running = [worker for worker in cluster.workers if worker.alive()]
    loaders = [Loader(cluster, f"acme/load{n}") for n in range(4)]
    for loader in loaders:
        loader.start()
    wait_until(
        lambda: all(len(loader.accepted) >= 2 for loader in loaders), 60, "writes before the stop"
    )
    stopped_at = [len(loader.answers) for loader in loaders]
    postgres.stop("fast")
    wait_until(
        lambda: all(
            any(answer.status == 503 for _, answer in loader.answers[mark:])
            for loader, mark in zip(loaders, stopped_at, strict=True)
        ),
        60,
        "every loader to be answered 503 while the database is down",
    )
    postgres.start()
    written_before = [len(loader.accepted) for loader in loaders]
    wait_until(
        lambda: all(
            len(loader.accepted) >= count + 2
            for loader, count in zip(loaders, written_before, strict=True)
        ),
        60,
        "every loader to write again after the restart",
    )
    for loader in loaders:
        loader.stopped.set()
    for loader in loaders:
        loader.join(timeout=60)

    answers = [answer for loader in loaders for answer in loader.answers]
    assert not [f for loader in loaders for f in loader.failures]
    for method, answer in answers:
        _assert_clean_answer(method, answer)
    statuses = Counter(answer.status for _, answer in answers)
    assert statuses[503] > 0, f"no request met the restart: {statuses}"
    assert all(w.alive() for w in cluster.webs)

    for loader in loaders:
        versions = history(cluster.webs[0].url, cluster.token, loader.slug)
        assert [v["md5"] for v in versions] == [
            hashlib.md5(body).hexdigest() for body in loader.accepted
        ]
        for server in (0, 1):
            head = call(
                "GET", f"{_api(cluster, server)}/terraform/state/{loader.slug}", cluster.token
            )
            assert head.status == 200 and head.body == loader.accepted[-1]

    exited = [worker.name for worker in running if not worker.alive()]
    _ensure_two_workers(cluster)
    assert not exited, f"{exited} exited during the restart"
    _push(cluster, "after-restart", {"main.tf": CHANGING})
    (run,) = _runs(cluster, "after-restart")
    (run,) = _wait_for_runs(cluster, [run["id"]], TERMINAL, 90)
    assert run["status"] == "applied"


def _slow_run_planning(cluster, slow, name):
    _push(cluster, name, {"main.tf": slow_configuration(slow.url)}, auto_apply=False)
    (run,) = _runs(cluster, name)
    wait_until(lambda: _run(cluster, run["id"])["status"] == "planning", 60, "a planning run")
    assert slow.requests.wait(60), "Terraform never reached the slow server"
    return run["id"]


def _outages_logged(worker):
    log = worker.log()
    return sum(log.count(line) for line in OUTAGE_LOGGED)


def _restart(cluster, postgres):
    """Stop PostgreSQL until a worker polling the queue has met the outage
    and the web servers answer 503, then start it again."""
    idle = [worker for worker in cluster.workers if worker.alive()]
    met_before = [_outages_logged(worker) for worker in idle]
    postgres.stop("fast")
    wait_until(
        lambda: any(
            _outages_logged(worker) > count for worker, count in zip(idle, met_before, strict=True)
        ),
        60,
        "a worker to meet the outage",
    )
    for server in (0, 1):
        wait_until(
            lambda server=server: call(
                "GET", f"{_api(cluster, server)}/terraform/state/acme/none", cluster.token
            ).status
            == 503,
            60,
            f"web server {server} to answer 503",
        )
    postgres.start()


def test_workers_outlive_a_database_restart_and_the_run_in_flight_ends(cluster, postgres):
    """PostgreSQL restarts while one worker plans (Terraform held up by a
    server that answers only later) and the other polls the queue: both
    workers are still running afterwards, the run in flight does not stay
    `planning` (see the next test for how it ends), and the next run is
    applied."""
    running = [worker for worker in cluster.workers if worker.alive()]
    with SlowServer() as slow:
        run_id = _slow_run_planning(cluster, slow, "in-flight")
        _restart(cluster, postgres)
    _wait_for_runs(cluster, [run_id], {"planned", *TERMINAL}, STALE_SECONDS + REAP_SECONDS + 30)
    exited = [worker.name for worker in running if not worker.alive()]
    _ensure_two_workers(cluster)
    assert not exited, f"{exited} exited during the restart"
    _push(cluster, "after-restart-2", {"main.tf": CHANGING})
    (after,) = _runs(cluster, "after-restart-2")
    (after,) = _wait_for_runs(cluster, [after["id"]], TERMINAL, 90)
    assert after["status"] == "applied"


def test_a_run_in_flight_rides_out_a_short_database_restart(cluster, postgres):
    """A plan running while PostgreSQL restarts for a few seconds ends as it
    would have without the restart (this configuration plans no changes)."""
    with SlowServer() as slow:
        run_id = _slow_run_planning(cluster, slow, "rides-out")
        _restart(cluster, postgres)
    (run,) = _wait_for_runs(cluster, [run_id], {"planned", *TERMINAL}, 60)
    _ensure_two_workers(cluster)
    assert run["status"] == "planned_and_finished", run["message"]
