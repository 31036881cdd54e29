"""Fixtures of the runs tests: environments, a fake Terraform, workers.

The end-to-end tests run a real worker process (`manage.py run_worker`)
against the live test server's database: the test database pytest-django
created (on SQLite a file, see the root conftest).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from atlas.keys import key_ring
from atlas.testing.gunicorn import database_url
from runs.models import Run

from . import factories

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
FAKE_TERRAFORM = HERE / "fake_terraform.sh"


@pytest.fixture
def env(personas):
    return factories.environment("app")


@pytest.fixture
def version(env, personas):
    return factories.finished_version(env, user=personas.writer.user)


@pytest.fixture
def fake_terraform(settings):
    """Terraform replaced by tests/fake_terraform.sh (sandboxed like the real one)."""
    settings.ATLAS_TERRAFORM_BIN = str(FAKE_TERRAFORM)
    settings.ATLAS_RUN_ADDRESS = "http://127.0.0.1:9"
    settings.ATLAS_RUN_HEARTBEAT_SECONDS = 1
    settings.ATLAS_RUN_CANCEL_GRACE_SECONDS = 2
    return FAKE_TERRAFORM


class Workers:
    """Worker processes started by a test, stopped (or killed) at its end."""

    def __init__(self, data_dir, address, extra_env):
        self.data_dir, self.address, self.extra_env = data_dir, address, extra_env
        self.processes = []

    def start(self, **env):
        key_ring()  # the key file exists before a worker reads it
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": database_url(),
            "ATLAS_DATA_DIR": str(self.data_dir),
            "ATLAS_RUN_ADDRESS": self.address,
            "ATLAS_RUN_HEARTBEAT_SECONDS": "1",
            "ATLAS_RUN_STALE_SECONDS": "4",
            "ATLAS_RUN_REAP_SECONDS": "1",
            "ATLAS_RUN_CANCEL_GRACE_SECONDS": "3",
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
            **env,
        }
        log = open(self.data_dir / f"worker-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.2"],
            cwd=PROJECT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = log.name
        self.processes.append(process)
        return process

    def kill(self, process):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def output(self):
        return "\n".join(Path(p.log_path).read_text(errors="replace") for p in self.processes)


@pytest.fixture
def workers(live_server, isolated_data, settings):
    """Start workers with `workers.start()`; they share this test's data
    directory (blobs, keys) and database, and reach the live server."""
    settings.ATLAS_RUN_ADDRESS = live_server.url
    pool = Workers(isolated_data.root, live_server.url, {})
    yield pool
    pool.stop()


def wait_for(predicate, timeout=60, interval=0.2, message="condition"):
    """Poll `predicate` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {message}")


def wait_for_status(run, statuses, timeout=60):
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)

    def reached():
        status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
        return status in statuses and status

    wait_for(reached, timeout=timeout, message=f"run {run.pk} to be {'/'.join(statuses)}")
    run.refresh_from_db()
    return run


__all__ = ["SimpleNamespace", "wait_for", "wait_for_status"]
