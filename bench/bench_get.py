"""Authenticated GET of a state: the real server against a bare WSGI app.

All run under the same gunicorn settings (sync workers, same count); the
bare app (bench/bare_wsgi.py) checks the X-Atlas-Token header and returns
the same bytes with their MD5; bench/bare_decrypt.py does the same from the
state's encrypted blob, read and decrypted as the server does; the
framework floor (bench/minimal_drf.py) is a DRF view with one token query.
Clients are threads with raw sockets sending a prepared request and
reading to the end (sync workers close each connection), so the client
costs little. Rounds alternate between the servers. Each round reports
requests per second and the CPU time per request of the serving workers
(their user + system time from /proc over the requests served): on a
shared machine requests/s moves with the load of others, CPU per request
much less.
"""

import argparse
import contextlib
import socket
import tempfile
import threading
import time
from pathlib import Path

import common
import statefile


def load(port, request_bytes, expected_length, seconds, clients):
    """(requests, elapsed seconds); every response must be a 200 of the expected size."""
    stop = time.monotonic() + seconds
    counts = [0] * clients
    errors = []

    def client(index):
        buffer = bytearray(expected_length + 4096)
        view = memoryview(buffer)
        while time.monotonic() < stop:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(request_bytes)
                received = 0
                while True:
                    got = sock.recv_into(view[received:])
                    if not got:
                        break
                    received += got
            if not buffer.startswith(b"HTTP/1.1 200") or received < expected_length:
                errors.append(bytes(buffer[:100]))
                return
            counts[index] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"bad responses: {errors[:3]}")
    return sum(counts), time.monotonic() - started


def measure(port, pids, request_bytes, expected_length, seconds, clients):
    """(requests per second, CPU milliseconds per request of the processes `pids`)."""
    before = common.cpu_seconds(pids)
    requests, elapsed = load(port, request_bytes, expected_length, seconds, clients)
    return requests / elapsed, (common.cpu_seconds(pids) - before) / requests * 1000


def alternate(targets, expected_length, rounds, seconds, clients):
    """{name: {requests_per_second, cpu_ms_per_request}: summaries} of `targets`
    ({name: (port, worker pids, request bytes)}), each warmed up for 1 s,
    then measured in `rounds` alternating rounds."""
    for port, _pids, request in targets.values():
        load(port, request, expected_length, 1, clients)
    rates = {name: [] for name in targets}
    cpu = {name: [] for name in targets}
    for _round in range(rounds):
        for name, (port, pids, request) in targets.items():
            rate, cpu_ms = measure(port, pids, request, expected_length, seconds, clients)
            rates[name].append(rate)
            cpu[name].append(cpu_ms)
    return {
        name: {
            "requests_per_second": common.summary(rates[name]),
            "cpu_ms_per_request": common.summary(cpu[name]),
        }
        for name in targets
    }


HEAD_BLOB = """
from states.models import EnvironmentState
head = EnvironmentState.objects.get(environment__name="s{size}").head
print(head.blob_name, head.blob_key_id, head.size, head.md5)
"""


def head_blob(env, size):
    """The stored blob of state `s<size>`, as bare_decrypt.py reads it."""
    output = common.manage(env, "shell", "-c", HEAD_BLOB.format(size=size))
    name, key_id, length, md5 = output.split()[-4:]
    return {
        "BENCH_BLOB_NAME": name,
        "BENCH_BLOB_KEY": key_id,
        "BENCH_BLOB_SIZE": length,
        "BENCH_BLOB_MD5": md5,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,1400000,10000", help="state sizes in bytes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--before",
        default="",
        help="a checkout of an earlier version (`git archive REF | tar -x -C DIR`): "
        "its server is measured too, as `before`, on the same data",
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-get-") as tmp:
        tmp = Path(tmp)
        env, token = common.prepare(tmp / "data")
        for size in (int(s) for s in args.sizes.split(",")):
            body = statefile.state_bytes(size)
            body_path = tmp / f"state-{size}.json"
            body_path.write_bytes(body)
            path = f"/api/v1/terraform/state/bench/s{size}"
            bare_env = {**env, "BENCH_TOKEN": token, "BENCH_BODY": str(body_path)}
            minimal_env = {**bare_env, "DJANGO_SETTINGS_MODULE": "bench.minimal_drf"}
            with common.serving("atlas.wsgi:application", env, args.workers) as (port, master):
                headers = {"Content-Type": "application/json"}
                status, _ = common.request(port, "PUT", path, token, body, headers)
                assert status == 200, status
            decrypt_env = {**bare_env, **head_blob(env, size)}
            with (
                common.serving("atlas.wsgi:application", env, args.workers) as (port, master),
                common.serving("bench.bare_wsgi:app", bare_env, args.workers) as (bare, bare_m),
                common.serving("bench.minimal_drf:application", minimal_env, args.workers) as (
                    minimal,
                    minimal_m,
                ),
                common.serving("bench.bare_decrypt:app", decrypt_env, args.workers) as (
                    decrypt,
                    decrypt_m,
                ),
                contextlib.ExitStack() as stack,
            ):
                before = None
                if args.before:
                    before = stack.enter_context(
                        common.serving("atlas.wsgi:application", env, args.workers, cwd=args.before)
                    )
                for target in (port, bare, minimal, decrypt, *([before[0]] if before else [])):
                    status, answer = common.request(target, "GET", path, token)
                    assert status == 200 and answer == body, (target, status)
                request = (
                    f"GET {path}?atlas_run_id= HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"X-Atlas-Token: {token}\r\nConnection: close\r\n\r\n"
                ).encode()
                targets = {
                    "server": (port, common.worker_pids(master), request),
                    "bare": (bare, common.worker_pids(bare_m), request),
                    "minimal_drf": (minimal, common.worker_pids(minimal_m), request),
                    "bare_decrypt": (decrypt, common.worker_pids(decrypt_m), request),
                }
                if before:
                    targets["before"] = (before[0], common.worker_pids(before[1]), request)
                summary = alternate(targets, len(body), args.rounds, args.seconds, args.clients)
            cpu_median = {name: summary[name]["cpu_ms_per_request"]["median"] for name in targets}
            summary["cpu_server_over_bare"] = cpu_median["server"] / cpu_median["bare"]
            summary["cpu_server_over_minimal_drf"] = (
                cpu_median["server"] / cpu_median["minimal_drf"]
            )
            summary["cpu_minimal_drf_over_bare"] = cpu_median["minimal_drf"] / cpu_median["bare"]
            summary["cpu_server_over_bare_decrypt"] = (
                cpu_median["server"] / cpu_median["bare_decrypt"]
            )
            if "before" in cpu_median:
                summary["cpu_server_over_before"] = cpu_median["server"] / cpu_median["before"]
            results[str(len(body))] = summary
            print(
                f"{len(body)} bytes, CPU ms per request (median): "
                + ", ".join(f"{name} {value:.3f}" for name, value in cpu_median.items())
                + f"; server/bare {summary['cpu_server_over_bare']:.2f}, "
                f"server/minimal DRF {summary['cpu_server_over_minimal_drf']:.2f}, "
                f"server/bare+decrypt {summary['cpu_server_over_bare_decrypt']:.2f}",
                flush=True,
            )
    common.emit(
        "get_state",
        {
            "workers": args.workers,
            "clients": args.clients,
            "seconds_per_round": args.seconds,
            "rounds": args.rounds,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
