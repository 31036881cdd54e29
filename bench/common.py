"""Shared pieces of the benchmarks: a server on its own data directory, a
bare WSGI baseline under the same gunicorn settings, timing and memory.

Run from the repository root: `.venv/bin/python bench/<name>.py`.
"""

import contextlib
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

SETUP_USER = """
from accounts import tokens
from accounts.models import User
user = User(username="bench")
user.set_password("unused-password-1")
user.save()
print(tokens.issue(user)[1])
"""


def machine():
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": os.environ.get("DATABASE_URL", "sqlite (file in the data directory)"),
    }


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("ATLAS_KEYS", "ATLAS_KEYS_FILE")}
    env.update(ATLAS_DATA_DIR=str(data_dir), DEBUG="false", LOG_LEVEL="WARNING")
    return env


def manage(env, *args, stdin=None):
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr}")
    return result.stdout


def prepare(data_dir):
    """Migrate a fresh database in `data_dir`; (env, token of user `bench`)."""
    env = server_env(data_dir)
    manage(env, "migrate", "--verbosity", "0")
    token = manage(env, "shell", "-c", SETUP_USER).strip().splitlines()[-1]
    return env, token


def gunicorn_command(app, port, workers, extra=()):
    """The same settings for the real server and the baseline."""
    return [
        PYTHON, "-m", "gunicorn", app,
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "sync",
        "--timeout", "300",
        "--log-level", "warning",
        *extra,
    ]  # fmt: skip


@contextlib.contextmanager
def serving(app, env, workers=2, cwd=ROOT):
    """A gunicorn master running `app`; yields (port, master pid)."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(
        gunicorn_command(app, port, workers), cwd=cwd, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while not worker_pids(process.pid) or not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(log.read().decode(errors="replace"))
            time.sleep(0.2)
        time.sleep(0.5)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _answers(port):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        return True
    except OSError:
        return False


def worker_pids(master_pid):
    try:
        text = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]


CLOCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User + system CPU time the processes `pids` have used so far, in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK
    return total


def memory_kib(pid, field):
    """`VmRSS` or `VmHWM` (peak) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid):
    """Reset VmHWM to the current RSS (Linux 4.0+, needs the right to write the file)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def request(port, method, path, token=None, body=None, headers=None):
    """(status, body) of one request on a fresh connection (sync workers close them)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    all_headers = dict(headers or {})
    if token:
        all_headers["X-Atlas-Token"] = token
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def summary(values):
    """Median and spread of a list of numbers."""
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


def emit(name, data, results_dir=ROOT / "bench" / "results"):
    """Print the results and keep them as JSON in bench/results/ (not committed)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), **data}
    (results_dir / f"{name}.json").write_text(json.dumps(payload, indent=2))
    print(json.dumps(payload, indent=2))
