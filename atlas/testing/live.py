"""Live web servers on one SQLite data directory, for tests of what only a real
server shows: a worker process's memory, counts shared between processes.

`prepare()` migrates a data directory and creates a user; `serve()` starts
gunicorn on it (several may share one directory, as several web processes
share a deployment's database). Nothing is inherited from the test's own
DATABASE_URL: the servers use the directory's SQLite file.
"""

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from atlas.testing.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"

CREATE_USER = """
from accounts import tokens
from accounts.models import User
user = User(username={username!r})
user.set_password({password!r})
user.save()
print(tokens.issue(user)[1])
"""


def server_env(data_dir, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "ATLAS_KEYS", "ATLAS_REDIS_URL")
    }
    env.update(ATLAS_DATA_DIR=str(data_dir), ATLAS_KEYS_FILE="", DEBUG="false", LOG_LEVEL="WARNING")
    env.update(extra)
    return env


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


def prepare(data_dir, username="admin", **extra):
    """(environment, token of `username`) for servers on a migrated `data_dir`."""
    env = server_env(data_dir, **extra)
    manage(env, "migrate", "--verbosity", "0")
    script = CREATE_USER.format(username=username, password=PASSWORD)
    token = manage(env, "shell", "-c", script).strip().splitlines()[-1]
    return env, token


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen

    def worker_pids(self):
        """The gunicorn workers (the master's children)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]


@contextmanager
def serve(env, name="web", workers=1, threads=1):
    """A gunicorn on `env`: sync workers unless `threads` > 1, as `make serve` runs."""
    port = free_port()
    data_dir = Path(env["ATLAS_DATA_DIR"])
    command = [
        sys.executable, "-m", "gunicorn", "atlas.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--log-level", "warning",
    ]  # fmt: skip
    log_path = data_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    server = Server(f"http://127.0.0.1:{port}", port, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{server.url}/healthz", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log_path.read_text(errors="replace")) from None
                time.sleep(0.2)
        while len(server.worker_pids()) < workers:
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
