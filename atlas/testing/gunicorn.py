"""A gunicorn on the test database, over HTTP or HTTPS, for real clients.

The end-to-end tests of the Terraform doors start one server per test
module (`LiveServer`) and run real Terraform against it
(`atlas.testing.live` serves a data directory of its own instead). The server uses
the test database (so tests set up people and tokens with factories and
read the rows back), a data directory of its own for blobs, and a key ring
the test process shares (`share_with_test_process`), so tokens and blobs
mean the same on both sides. Tests that use it need
`django_db(transaction=True)`: the server sees only committed rows.

An in-memory SQLite test database cannot be shared with another process:
on SQLite the test database is a file for the whole session.

`make_ca()` makes a CA and a certificate for 127.0.0.1 and localhost with
`trustme`; Terraform trusts it through SSL_CERT_FILE.

As a pytest plugin it gives a test module one server: `live_http` or
`live_https` (the server, its keys and blobs shared with the test).
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection

from atlas.keys import KeyRing, new_key_id, reset_key_ring

ROOT = Path(__file__).resolve().parents[2]


def sqlite_test_database_in_a_file():
    """Make the SQLite test database a file other processes can open.

    Called once per test session, before the test database is created (the
    root conftest's `django_db_modify_db_settings`), whichever tests run.
    """
    default = settings.DATABASES["default"]
    if default["ENGINE"].endswith("sqlite3") and not (default.get("TEST") or {}).get("NAME"):
        default.setdefault("TEST", {})["NAME"] = os.path.join(
            tempfile.gettempdir(), f"atlas-test-{os.getpid()}.sqlite3"
        )


def database_url():
    """The URL of the database this test process uses (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_ca(directory):
    """(ca.pem, cert.pem, key.pem) paths of a fresh test CA and server certificate."""
    import trustme

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    paths = SimpleNamespace(
        ca=directory / "ca.pem", cert=directory / "cert.pem", key=directory / "key.pem"
    )
    ca.cert_pem.write_to_path(str(paths.ca))
    server.private_key_pem.write_to_path(str(paths.key))
    server.cert_chain_pems[0].write_to_path(str(paths.cert))
    for blob in server.cert_chain_pems[1:]:
        blob.write_to_path(str(paths.cert), append=True)
    return paths


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    keys: str
    ca: Path | None
    process: subprocess.Popen

    @property
    def host(self):
        """`host:port`, as Terraform's hostnames and credentials blocks name it."""
        return self.url.split("://", 1)[1]

    @property
    def log(self):
        return (self.data_dir / "gunicorn.log").read_text(errors="replace")

    def share_with_test_process(self, test_settings):
        """Point this test's key ring and blob storage at the server's."""
        test_settings.ATLAS_KEYS = self.keys
        test_settings.STORAGES = {
            **test_settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(self.data_dir / "blobs")},
            },
        }
        reset_key_ring()


@contextmanager
def live_server(data_dir, tls=None, workers=2, threads=4, **extra_env):
    """A gunicorn serving the test database; HTTPS when `tls` (from make_ca) is given."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    key_id = new_key_id()
    keys = KeyRing(key_id, {key_id: secrets.token_bytes(32)}).to_json()
    port = free_port()
    scheme = "https" if tls else "http"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url(),
        "ATLAS_DATA_DIR": str(data_dir),
        "ATLAS_KEYS": keys,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        **extra_env,
    }
    command = [
        sys.executable, "-m", "gunicorn", "atlas.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--timeout", "120",
        "--log-level", "warning",
    ]  # fmt: skip
    if tls:
        command += ["--certfile", str(tls.cert), "--keyfile", str(tls.key)]
    # Pages need the static files' manifest (whitenoise serves the hashed names).
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = open(data_dir / "gunicorn.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )
    url = f"{scheme}://127.0.0.1:{port}"
    server = LiveServer(url, data_dir, keys, getattr(tls, "ca", None), process)
    try:
        _wait_until_healthy(server, tls)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_healthy(server, tls):
    import ssl

    context = ssl.create_default_context(cafile=str(tls.ca)) if tls else None
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{server.url}/healthz", timeout=2, context=context).read()
            return
        except (OSError, urllib.error.URLError):
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(server.log) from None
            time.sleep(0.2)


def https_session(server):
    """A requests session that trusts the server's test CA (and nothing from the
    environment: REQUESTS_CA_BUNDLE would override `verify`)."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.ca)
    return session


@pytest.fixture(scope="module")
def _gunicorn_http(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("live-http")) as server:
        yield server


@pytest.fixture(scope="module")
def _gunicorn_https(tmp_path_factory):
    tls = make_ca(tmp_path_factory.mktemp("live-ca"))
    with live_server(tmp_path_factory.mktemp("live-https"), tls=tls) as server:
        yield server


@pytest.fixture
def live_http(_gunicorn_http, settings, isolated_data):
    """One gunicorn per test module over HTTP; needs django_db(transaction=True)."""
    _gunicorn_http.share_with_test_process(settings)
    return _gunicorn_http


@pytest.fixture
def live_https(_gunicorn_https, settings, isolated_data):
    """One gunicorn per test module over HTTPS with a test CA (`.ca`)."""
    _gunicorn_https.share_with_test_process(settings)
    return _gunicorn_https
