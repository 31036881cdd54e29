"""Queue → planning → planned of a run on an idle worker.

The server's worker (`manage.py run_worker`, woken on enqueue: runs.wakeup)
against django-tasks-db's plain polling worker (`manage.py db_worker
--interval 0.5`, how runs were taken before), on the same database,
alternating rounds. Each run is queued the way the API queues one
(`runs.queue.queue_run`) after a random pause, so it finds the worker idle
at a random point of its wait; Terraform is the tests' stand-in
(runs/tests/fake_terraform.sh) planning no changes, so the figures are the
queue's and the worker's own, not Terraform's. Times are the run's own
timestamps: `created_at` → `planning_at` → `planned_and_finished_at`, and
the moment `queue_run` returned (its transaction, which enqueued the task,
committed) → `planning_at`: the worker's own share.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import common

FAKE_TERRAFORM = common.ROOT / "runs" / "tests" / "fake_terraform.sh"
NO_CHANGES = {"main.tf": "#\n", "plan.sh": "exit 0\n"}
WORKERS = {
    "run_worker (woken)": ["run_worker", "--no-reaper"],
    "db_worker --interval 0.5 (polling)": ["db_worker", "--interval", "0.5", "--no-startup-delay"],
}


def start_worker(env, command):
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [common.PYTHON, "manage.py", *command],
        cwd=common.ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    process.log = log
    return process


def stop_worker(process):
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    process.log.close()


def one_run(environment, user, version, timeout=60):
    """(queue → planning, queue → planned, committed → planning) in milliseconds."""
    from runs.models import Run, Status
    from runs.queue import queue_run

    run = queue_run(environment, user, version=version)
    committed = datetime.now(UTC)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = Run.objects.values("status", "planning_at", "planned_and_finished_at").get(pk=run.pk)
        if row["status"] == Status.PLANNED_AND_FINISHED:
            queued = run.created_at
            return (
                (row["planning_at"] - queued).total_seconds() * 1000,
                (row["planned_and_finished_at"] - queued).total_seconds() * 1000,
                (row["planning_at"] - committed).total_seconds() * 1000,
            )
        if row["status"] in (Status.ERRORED, Status.CANCELED):
            raise RuntimeError(f"run {run.pk} ended {row['status']}")
        time.sleep(0.005)
    raise RuntimeError(f"run {run.pk} did not finish in {timeout} s")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10, help="runs per worker per round")
    parser.add_argument("--database-url", default="", help="PostgreSQL (the database is created)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as tmp:
        env = common.server_env(Path(tmp) / "data")
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
            _recreate_database(args.database_url)
        env.update(ATLAS_TERRAFORM_BIN=str(FAKE_TERRAFORM), ATLAS_RUN_ADDRESS="http://127.0.0.1:9")
        env["ATLAS_DATA_DIR"] = str(Path(tmp) / "data")
        common.manage(env, "migrate", "--verbosity", "0")
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "atlas.settings"
        sys.path.insert(0, str(common.ROOT))
        import django

        django.setup()
        from accounts.models import User
        from environments.models import Environment
        from runs.tests.factories import finished_version

        user = User(username="bench")
        user.set_password("unused-password-1")
        user.save()
        environment = Environment.objects.create(namespace=user.namespace, name="runs")
        version = finished_version(environment, NO_CHANGES)
        times = {
            name: {"planning": [], "planned": [], "planning_after_commit": []} for name in WORKERS
        }
        for _round in range(args.rounds):
            for name, command in WORKERS.items():
                worker = start_worker(env, command)
                try:
                    one_run(environment, user, version)  # warm-up: the worker has started
                    for _ in range(args.runs):
                        time.sleep(random.uniform(0.3, 0.8))  # idle at a random point
                        planning, planned, after_commit = one_run(environment, user, version)
                        times[name]["planning"].append(planning)
                        times[name]["planned"].append(planned)
                        times[name]["planning_after_commit"].append(after_commit)
                finally:
                    stop_worker(worker)
    results = {
        name: {
            f"{stage}_ms": {
                "p50": percentile(values, 0.5),
                "p95": percentile(values, 0.95),
                "min": min(values),
                "max": max(values),
                "n": len(values),
            }
            for stage, values in stages.items()
        }
        for name, stages in times.items()
    }
    for name, stages in results.items():
        print(
            f"{name}: "
            + "; ".join(
                f"{stage} p50 {found['p50']:.0f} ms, p95 {found['p95']:.0f} ms"
                for stage, found in stages.items()
            ),
            flush=True,
        )
    suffix = "postgresql" if args.database_url else "sqlite"
    common.emit(f"run_latency_{suffix}", {"rounds": args.rounds, "results": results})


def _recreate_database(url):
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main()
