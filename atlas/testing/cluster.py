"""The scale-out shape on one machine, for the system tests.

A private PostgreSQL (its own `initdb` in a temporary directory, on its own
port, so restarting it disturbs nothing else), a bucket on the moto server
of `atlas.testing.s3`, and web servers (`gunicorn atlas.wsgi:application`)
and workers (`manage.py run_worker`) as separate processes. Every process
gets the same database, bucket, key ring and SECRET_KEY, and a data
directory of its own: exactly what docs/operations.md asks of a deployment
on several machines. Nothing is inherited from the test's own environment
(CI runs the suite with a DATABASE_URL of its own).
"""

import contextlib
import glob
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

from atlas.keys import KeyRing, new_key_id
from atlas.testing import s3

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin_dir():
    """The newest PostgreSQL server binaries installed the Debian way, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path):
        major = Path(path).parts[-3]
        return int(major) if major.isdigit() else 0

    return Path(max(found, key=version)).parent if found else None


def wait_until(predicate, timeout, message, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


class PrivatePostgres:
    """A PostgreSQL server of the test's own: initdb, start, stop, restart.

    initdb and the server refuse to run as root, so as root they run as the
    `postgres` user (runuser) in a directory it owns. Trust authentication
    on 127.0.0.1 only: a throwaway cluster for local tests.
    """

    def __init__(self, bin_dir):
        self.bin = Path(bin_dir)
        self.root = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    def _as_owner(self, *argv):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, text=True, timeout=120)

    def tool(self, name):
        return str(self.bin / name)

    def init(self):
        self._as_owner(
            self.tool("initdb"),
            "--pgdata", str(self.data),
            "--auth", "trust",
            "--username", "postgres",
            "--encoding", "UTF8",
            "--no-locale",
            "--no-sync",
        )  # fmt: skip
        return self

    def start(self):
        # fsync off: a fast shutdown still writes everything out, and only a
        # crash of the machine could lose data, which no test here simulates.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._as_owner(
            self.tool("pg_ctl"), "start", "--pgdata", str(self.data), "--log", str(self.log),
            "--wait", "--timeout", "60", "-o", options,
        )  # fmt: skip

    def stop(self, mode="fast"):
        self._as_owner(
            self.tool("pg_ctl"), "stop", "--pgdata", str(self.data),
            "--mode", mode, "--wait", "--timeout", "60",
        )  # fmt: skip

    def destroy(self):
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql, database="postgres"):
        result = subprocess.run(
            [self.tool("psql"), "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-qAt",
             "-d", self.url(database), "-c", sql],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return result.stdout.strip()

    def create_database(self, name):
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)


def new_key_ring_json():
    key_id = new_key_id()
    return KeyRing(key_id, {key_id: secrets.token_bytes(32)}).to_json()


@dataclass
class Service:
    """One process of the cluster: a web server (with its URL) or a worker."""

    name: str
    process: subprocess.Popen
    log_path: Path
    url: str = ""

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def log(self):
        return self.log_path.read_text(errors="replace")


@dataclass
class Cluster:
    """Web servers and workers sharing one database, one bucket, one key ring."""

    root: Path
    database_url: str
    s3_endpoint: str
    bucket: str
    keys: str = field(default_factory=new_key_ring_json)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    run_address: str = ""
    webs: list = field(default_factory=list)
    workers: list = field(default_factory=list)
    extra_env: dict = field(default_factory=dict)

    def env(self, name, **extra):
        data_dir = Path(self.root) / name
        data_dir.mkdir(parents=True, exist_ok=True)
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(data_dir),
            "LANG": "C.UTF-8",
            "CHECKPOINT_DISABLE": "1",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.database_url,
            "ATLAS_DATA_DIR": str(data_dir),
            "ATLAS_KEYS": self.keys,
            "SECRET_KEY": self.secret_key,
            "ATLAS_S3_BUCKET": self.bucket,
            "ATLAS_S3_ENDPOINT_URL": self.s3_endpoint,
            "ATLAS_S3_REGION": s3.REGION,
            "ATLAS_S3_ACCESS_KEY_ID": s3.ACCESS_KEY,
            "ATLAS_S3_SECRET_ACCESS_KEY": s3.SECRET_KEY,
            "ATLAS_RUN_ADDRESS": self.run_address,
            # Kills are noticed within seconds, not the production minute.
            "ATLAS_RUN_HEARTBEAT_SECONDS": "1",
            "ATLAS_RUN_STALE_SECONDS": "6",
            "ATLAS_RUN_REAP_SECONDS": "2",
            "ATLAS_RUN_CANCEL_GRACE_SECONDS": "3",
            **self.extra_env,
            **extra,
        }
        return environment

    def manage(self, *args, env_name="manage"):
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env(env_name),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def migrate(self):
        self.manage("migrate", "--no-input", "--verbosity", "0")

    def create_user(self, username, organizations=()):
        """A user (admin of `organizations`, created with them); their token's text."""
        script = (
            "from accounts import tokens\n"
            "from accounts.models import User\n"
            "from accounts.services import create_organization\n"
            f"user = User(username={username!r}, email={username + '@example.com'!r})\n"
            "user.set_password('unused-password-1')\n"
            "user.save()\n"
            f"for name in {list(organizations)!r}:\n"
            "    create_organization(user, name)\n"
            "print(tokens.issue(user, description='system test')[1])\n"
        )
        return self.manage("shell", "-c", script).strip().splitlines()[-1]

    def _spawn(self, name, argv, env):
        log_path = Path(self.root) / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Service(name, process, log_path)

    def start_web(self, workers=2, threads=4):
        name = f"web{len(self.webs) + 1}"
        port = free_port()
        argv = [
            PYTHON, "-m", "gunicorn", "atlas.wsgi:application",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers),
            "--threads", str(threads),
            "--timeout", "60",
            "--graceful-timeout", "5",
            "--log-level", "warning",
        ]  # fmt: skip
        service = self._spawn(name, argv, self.env(name))
        service.url = f"http://127.0.0.1:{port}"

        def ready():
            if not service.alive():
                raise RuntimeError(f"{name} exited:\n{service.log()}")
            try:
                with urllib.request.urlopen(f"{service.url}/healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_until(ready, 60, f"{name} to answer")
        self.webs.append(service)
        if not self.run_address:
            self.run_address = service.url
        return service

    def start_worker(self):
        name = f"worker{len(self.workers) + 1}"
        argv = [PYTHON, "manage.py", "run_worker", "--interval", "0.2"]
        service = self._spawn(name, argv, self.env(name))
        self.workers.append(service)
        return service

    def worker_by_pid(self, pid):
        return next(w for w in self.workers if w.pid == pid)

    def kill(self, service, sig=signal.SIGKILL):
        """`kill -<sig> <pid>`: the process alone, not its process group."""
        os.kill(service.pid, sig)
        service.process.wait(timeout=30)

    def stop(self):
        services = [*self.workers, *self.webs]
        for service in services:
            if service.alive():
                os.killpg(service.pid, signal.SIGTERM)
        for service in services:
            try:
                service.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(service.pid, signal.SIGKILL)
                service.process.wait()

    def logs(self):
        return "\n".join(f"== {s.name}\n{s.log()}" for s in [*self.webs, *self.workers])


# HTTP, the way a client sees the cluster: every answer, errors included.


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict

    def json(self):
        return json.loads(self.body)

    @property
    def content_type(self):
        return self.headers.get("content-type", "")


def call(method, url, token=None, body=None, headers=None, timeout=60):
    """One request; an HTTP error status is an answer like any other."""
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    if token:
        all_headers["X-Atlas-Token"] = token
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read(), _lower(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), _lower(error.headers))


def _lower(headers):
    return {name.lower(): value for name, value in headers.items()}


def put_state(base, token, slug, body):
    """PUT a state body the way Terraform's atlas backend does (with Content-MD5)."""
    md5 = b64encode(hashlib.md5(body).digest()).decode()
    return call(
        "PUT",
        f"{base}/api/v1/terraform/state/{slug}",
        token,
        body,
        {"Content-Type": "application/json", "Content-MD5": md5},
    )


def state_body(serial, lineage, **outputs):
    """A Terraform 0.11 state with `outputs`, as the exact bytes to send."""
    return json.dumps(
        {
            "version": 3,
            "terraform_version": "0.11.11",
            "serial": serial,
            "lineage": lineage,
            "modules": [
                {
                    "path": ["root"],
                    "outputs": {
                        key: {"sensitive": False, "type": "string", "value": str(value)}
                        for key, value in outputs.items()
                    },
                    "resources": {},
                    "depends_on": [],
                }
            ],
        },
        indent=4,
    ).encode()


def history(base, token, slug):
    """Every stored version of a state, lowest serial first."""
    versions, page = [], 1
    while True:
        answer = call(
            "GET", f"{base}/api/v1/terraform/state/{slug}/versions?per_page=100&page={page}", token
        )
        assert answer.status == 200, answer.body
        batch = answer.json()["versions"]
        versions += batch
        if len(batch) < 100:
            return sorted(versions, key=lambda v: v["serial"])
        page += 1
