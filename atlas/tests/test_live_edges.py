"""The edges against real gunicorn servers: memory under a huge body, and the
failure throttle counted across web processes (database and Redis)."""

import json
import select
import socket
import sqlite3
import uuid

import pytest
import redis

from atlas.testing.cluster import call
from atlas.testing.live import PASSWORD, prepare, serve

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/0"
HUGE = 300 * 1024 * 1024
PIECE = 1024 * 1024
# A Python worker's peak memory moves by a few MiB between requests; a body
# read into memory would move it by 300.
MEMORY_BOUND = 32 * 1024 * 1024


def peak_memory(pid):
    """The process's peak resident set size (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def send_huge_body(port, path, *, chunked, token=None):
    """POST HUGE bytes the way a hostile client would: (bytes sent, raw answer).

    Stops sending as soon as an answer arrives; a reset after the answer is
    what a server that refuses to read the rest does, and is not an error.
    """
    headers = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    headers.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {HUGE}")
    if token:
        headers.append(f"X-Atlas-Token: {token}")
    piece = b"[" * PIECE
    if chunked:
        piece = b"%x\r\n" % PIECE + piece + b"\r\n"
    answer, sent = b"", 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        try:
            while sent < HUGE and not select.select([sock], [], [], 0)[0]:
                sock.sendall(piece)
                sent += PIECE
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return sent, answer


def status_and_body(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    env, token = prepare(tmp_path_factory.mktemp("memory"))
    with serve(env, workers=1) as server:
        yield server, token


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("path", "authenticated"),
    [("/api/v1/authenticate", False), ("/api/v1/environments/admin/app/variables", True)],
    ids=["before-authentication", "authenticated-write"],
)
def test_a_300_mb_body_is_refused_with_bounded_memory(one_worker, chunked, path, authenticated):
    server, token = one_worker
    (worker,) = server.worker_pids()
    # Warm the worker up: everything a refusal needs is imported and allocated.
    assert call("POST", f"{server.url}/api/v1/authenticate", body={}).status == 400
    before = peak_memory(worker)

    sent, answer = send_huge_body(
        server.port, path, chunked=chunked, token=token if authenticated else None
    )

    status, body = status_and_body(answer)
    assert status == 413
    assert body == {
        "errors": {"base": [f"The body is larger than this server's limit of {4 * PIECE} bytes."]}
    }
    assert sent < HUGE  # refused long before the client was done
    assert peak_memory(worker) - before < MEMORY_BOUND
    assert server.worker_pids() == [worker]  # and the worker lives on


@pytest.fixture
def redis_prefix():
    prefix = f"atlas-test-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


def failure_rows(data_dir):
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        return db.execute("SELECT failures FROM accounts_authfailurecount").fetchall()


@pytest.mark.parametrize("store", ["database", "redis"])
def test_two_web_processes_share_one_failure_count(tmp_path, store, redis_prefix):
    extra = {"ATLAS_AUTH_FAILURE_LIMIT": "4"}
    if store == "redis":
        extra.update(ATLAS_REDIS_URL=REDIS_URL, ATLAS_REDIS_KEY_PREFIX=redis_prefix)
    env, token = prepare(tmp_path, **extra)
    wrong = {"user": {"login": "admin", "password": "wrong"}}
    right = {"user": {"login": "admin", "password": PASSWORD}}
    with serve(env, "web1") as web1, serve(env, "web2") as web2:
        statuses = [
            call("POST", f"{web.url}/api/v1/authenticate", body=wrong).status
            for web in (web1, web2, web1, web2, web1)
        ]
        assert statuses == [401, 401, 401, 401, 429]
        # The right password too, on either process, until the window ends.
        refused = call("POST", f"{web2.url}/api/v1/authenticate", body=right)
        assert refused.status == 429
        assert 0 < int(refused.headers["retry-after"]) <= 300
        assert set(refused.json()["errors"]) == {"base"}
        # A valid token is never refused, whatever failed before.
        for web in (web1, web2):
            assert call("GET", f"{web.url}/api/v1/user", token).status == 200

    if store == "redis":
        keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{redis_prefix}auth-failures:*"))
        assert len(keys) == 1
        assert failure_rows(tmp_path) == []
    else:
        assert failure_rows(tmp_path) == [(4,)]
