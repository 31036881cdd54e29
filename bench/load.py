"""A reproducible load mix against the server under gunicorn.

N clients for T seconds, each in a loop: 50 % state GET, 20 % state PUT
(its own environment, serial one above its last; one PUT in ten is
deliberately stale and must get 409), 15 % state listing, 15 % variable
update. Reports throughput, p50/p99 latency per operation and overall, and
every status by operation: anything but 200 (and the expected 409s) is an
error. Run from the repository root:

    .venv/bin/python bench/load.py                      # SQLite file, 16 clients, 20 s
    .venv/bin/python bench/load.py --database-url postgres://postgres@127.0.0.1:5432/atlas_load
"""

import argparse
import collections
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

OPERATIONS = [("get", 50), ("put", 20), ("list", 15), ("variables", 15)]


def _state(serial, client, size=2000):
    return json.dumps(
        {"version": 3, "serial": serial, "lineage": f"load-{client}", "modules": [],
         "padding": "x" * size}
    ).encode()  # fmt: skip


class Client(threading.Thread):
    def __init__(self, index, port, token, deadline, seed):
        super().__init__(daemon=True)
        self.index, self.port, self.token, self.deadline = index, port, token, deadline
        self.random = random.Random(seed)
        self.serial = 0
        self.samples = collections.defaultdict(list)  # operation -> [ms]
        self.statuses = collections.Counter()  # (operation, status)
        self.unexpected = collections.Counter()

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        all_headers = {"X-Atlas-Token": self.token, **(headers or {})}
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status, (time.perf_counter() - started) * 1000

    def step(self):
        operation = self.random.choices(
            [name for name, _ in OPERATIONS], [weight for _, weight in OPERATIONS]
        )[0]
        url = f"/api/v1/terraform/state/bench/load{self.index}"
        expected = {200}
        if operation == "get":
            status, ms = self.request("GET", url)
            expected = {200} if self.serial else {404}
        elif operation == "put":
            stale = self.serial > 1 and self.random.random() < 0.1
            serial = self.serial - 1 if stale else self.serial + 1
            status, ms = self.request(
                "PUT", url, _state(serial, self.index), {"Content-Type": "application/json"}
            )
            expected = {409} if stale else {200}
            if status == 200 and not stale:
                self.serial = serial
        elif operation == "list":
            status, ms = self.request("GET", "/api/v1/terraform/state?username=bench")
        else:
            body = f"variables[key{self.random.randint(0, 9)}]=value{self.random.random()}"
            status, ms = self.request(
                "PUT",
                f"/api/v1/environments/bench/load{self.index}/variables",
                body,
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            expected = {200} if self.serial else {200, 404}
        self.samples[operation].append(ms)
        self.statuses[(operation, status)] += 1
        if status not in expected:
            self.unexpected[(operation, status)] += 1

    def run(self):
        while time.monotonic() < self.deadline:
            self.step()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else None


def run(port, token, clients, seconds, seed):
    deadline = time.monotonic() + seconds
    threads = [Client(i, port, token, deadline, seed + i) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    samples, statuses, unexpected = (
        collections.defaultdict(list),
        collections.Counter(),
        collections.Counter(),
    )
    for thread in threads:
        for operation, values in thread.samples.items():
            samples[operation].extend(values)
        statuses.update(thread.statuses)
        unexpected.update(thread.unexpected)
    everything = [ms for values in samples.values() for ms in values]
    report = {
        "seconds": round(elapsed, 1),
        "requests": len(everything),
        "throughput_rps": round(len(everything) / elapsed, 1),
        "overall_ms": {"p50": percentile(everything, 0.5), "p99": percentile(everything, 0.99)},
        "operations": {
            name: {
                "count": len(values),
                "p50_ms": percentile(values, 0.5),
                "p99_ms": percentile(values, 0.99),
            }
            for name, values in sorted(samples.items())
        },
        "statuses": {f"{op} {status}": count for (op, status), count in sorted(statuses.items())},
        "unexpected": {
            f"{op} {status}": count for (op, status), count in sorted(unexpected.items())
        },
    }
    return report


def _psql(sql):
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql],
        check=True, capture_output=True,
    )  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (created and dropped)")
    args = parser.parse_args()
    database = args.database_url.rsplit("/", 1)[-1] if args.database_url else None
    if database:
        _psql(f"DROP DATABASE IF EXISTS {database}")
        _psql(f"CREATE DATABASE {database}")
        os.environ["DATABASE_URL"] = args.database_url
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env, token = common.prepare(Path(tmp))
            with common.serving("atlas.wsgi:application", env, workers=args.workers) as (port, _):
                report = run(port, token, args.clients, args.seconds, args.seed)
    finally:
        if database:
            _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    report.update(
        machine=common.machine(), clients=args.clients, gunicorn_workers=args.workers,
    )  # fmt: skip
    name = "load_postgres" if database else "load_sqlite"
    common.emit(name, report)
    return 1 if report["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
