"""A real server in child processes: gunicorn on its own data directory.

For what an in-process test cannot show: several worker processes writing
one SQLite file (the embedded default) at the same time.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
from accounts import tokens
from accounts.models import User
user = User(username="admin")
user.set_password("unused-password-1")
user.save()
print(tokens.issue(user)[1])
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ATLAS_KEYS")}
    env.update(ATLAS_DATA_DIR=str(data_dir), ATLAS_KEYS_FILE="", DEBUG="false", **extra)
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


@contextmanager
def gunicorn(data_dir, workers=2, threads=10, **extra):
    """(base URL, token of user `admin`) of a migrated server on a SQLite file."""
    env = server_env(data_dir, **extra)
    manage(env, "migrate", "--verbosity", "0")
    token = manage(env, "shell", "-c", SETUP).strip().splitlines()[-1]
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "atlas.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--log-level", "warning",
    ]  # fmt: skip
    log = open(Path(data_dir) / "gunicorn.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((Path(data_dir) / "gunicorn.log").read_text()) from None
                time.sleep(0.2)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
