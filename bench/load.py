"""A reproducible load mix against a running server: many clients, fixed time.

N client threads for T seconds, each with its own keep-alive connection
(`http.client`; reopened whenever the server closes it, as gunicorn's sync
workers do after every response), each looping over a weighted mix:

- 50 % `get`: GET its own environment's state; 200 with the bytes it last wrote;
- 20 % `put`: PUT its own state, serial one above its last; 200. One PUT in
  ten is a `stale_put` instead: an older serial, or the same serial with
  other bytes; 409;
- 15 % `list`: the namespace's state listing (`?username=`), page 1 or, one
  time in four, a random page; 200;
- 15 % `variables`: PUT one variable, JSON or Rack-style form; 200.

Before the clock starts, each client creates its environment with a first
state (serial 1) and warms its connection; that is not measured. Every
answer other than the expected status is an error, and so is a connection
failure. The report gives throughput, p50/p99 latency per operation and
overall, and every status by operation, as JSON and as a table.

The random choices are seeded from `--seed` and the client's number, so two runs
make the same sequence of requests per client (the number of requests in T
seconds depends on the machine).

    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --token "$ATLAS_TOKEN" \\
        --namespace acme --clients 16 --seconds 20

`bench/run_load.py` starts the server itself (SQLite and PostgreSQL) and
calls `run()` below.
"""

import argparse
import base64
import collections
import hashlib
import http.client
import json
import random
import sys
import threading
import time
from urllib.parse import urlsplit

MIX = [("get", 50), ("put", 20), ("list", 15), ("variables", 15)]
STALE_SHARE = 0.1  # of the PUTs
STATE_PADDING = 2000  # bytes: a small state, as most are
TIMEOUT = 60


def state_body(serial, lineage, salt=""):
    """A Terraform 0.11-shaped state of about 2 KB."""
    document = {
        "version": 3,
        "terraform_version": "0.11.11",
        "serial": serial,
        "lineage": lineage,
        "modules": [
            {
                "path": ["root"],
                "outputs": {"salt": {"sensitive": False, "type": "string", "value": salt}},
                "resources": {
                    "null_resource.padding": {
                        "type": "null_resource",
                        "primary": {"id": "padding", "attributes": {"x": "x" * STATE_PADDING}},
                    }
                },
                "depends_on": [],
            }
        ],
    }
    return json.dumps(document, indent=4).encode()


def content_md5(body):
    return base64.b64encode(hashlib.md5(body).digest()).decode()


class Connection:
    """One keep-alive HTTP connection, reopened when the server closes it."""

    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token
        self.connection = None
        self.opened = 0

    def request(self, method, path, body=None, headers=None):
        """(status, milliseconds, response body); reconnects once on a stale socket."""
        all_headers = {"X-Atlas-Token": self.token, **(headers or {})}
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
                self.opened += 1
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=all_headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed a kept-alive connection before this request: retry
                # once on a new one. A failure on a fresh connection is an error.
                self.close()
                if attempt == 2:
                    raise
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.will_close:
                self.close()
            return response.status, elapsed, data
        raise AssertionError("unreachable")

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Client(threading.Thread):
    """One simulated client: its own environment, connection and random sequence."""

    def __init__(self, index, target, token, namespace, seed, start, deadline):
        super().__init__(name=f"load-client-{index}", daemon=True)
        self.index, self.namespace = index, namespace
        self.environment = f"load-{index}"
        self.state_url = f"/api/v1/terraform/state/{namespace}/{self.environment}"
        self.variables_url = f"/api/v1/environments/{namespace}/{self.environment}/variables"
        self.list_url = f"/api/v1/terraform/state?username={namespace}"
        self.lineage = f"load-lineage-{index}"
        self.connection = Connection(target.hostname, target.port or 80, token)
        self.random = random.Random(seed * 1000 + index)
        self.start_event, self.deadline = start, deadline
        self.serial = 0
        self.head = b""
        self.pages = 1
        self.samples = collections.defaultdict(list)  # operation -> [ms]
        self.statuses = collections.Counter()  # (operation, status)
        self.errors = collections.Counter()  # (operation, status or exception)
        self.setup_error = None

    # -- operations: each returns (operation, status, ms, expected statuses) --

    def put_next(self):
        serial = self.serial + 1
        body = state_body(serial, self.lineage, salt=str(self.random.random()))
        status, ms, _ = self.connection.request(
            "PUT",
            self.state_url,
            body,
            {"Content-Type": "application/json", "Content-MD5": content_md5(body)},
        )
        if status == 200:
            self.serial, self.head = serial, body
        return "put", status, ms, {200}

    def put_stale(self):
        # An older state, or the same serial with other bytes.
        serial = self.serial - 1 if self.random.random() < 0.5 else self.serial
        body = state_body(serial, self.lineage, salt=f"stale {self.random.random()}")
        status, ms, _ = self.connection.request(
            "PUT",
            self.state_url,
            body,
            {"Content-Type": "application/json", "Content-MD5": content_md5(body)},
        )
        return "stale_put", status, ms, {409}

    def get(self):
        status, ms, data = self.connection.request("GET", self.state_url)
        if status == 200 and data != self.head:
            return "get", "wrong body", ms, {200}
        return "get", status, ms, {200}

    def listing(self):
        url = self.list_url
        if self.random.random() < 0.25:
            url += f"&page={self.random.randint(1, self.pages)}"
        status, ms, data = self.connection.request("GET", url)
        if status == 200:
            total = json.loads(data)["meta"]["total"]
            self.pages = max(1, -(-total // 20))
        return "list", status, ms, {200}

    def variables(self):
        key = f"key{self.random.randint(0, 9)}"
        value = f"value-{self.random.random()}"
        if self.random.random() < 0.5:
            body = json.dumps({"variables": {key: value}}).encode()
            content_type = "application/json"
        else:
            body = f"variables[{key}]={value}".encode()
            content_type = "application/x-www-form-urlencoded"
        status, ms, _ = self.connection.request(
            "PUT", self.variables_url, body, {"Content-Type": content_type}
        )
        return "variables", status, ms, {200}

    def step(self):
        operation = self.random.choices([n for n, _ in MIX], [w for _, w in MIX])[0]
        if operation == "put":
            stale = self.serial > 1 and self.random.random() < STALE_SHARE
            return self.put_stale() if stale else self.put_next()
        return {"get": self.get, "list": self.listing, "variables": self.variables}[operation]()

    # -- the thread -----------------------------------------------------------

    def setup(self):
        """The environment and its first state, and a warm connection: not measured."""
        _, status, _, _ = self.put_next()
        if status != 200:
            raise RuntimeError(f"client {self.index}: first PUT answered {status}")
        for _ in range(3):
            self.get()

    def run(self):
        try:
            self.setup()
        except Exception as exc:  # reported by run(), which then fails the whole load
            self.setup_error = exc
            return
        self.start_event.wait()
        while time.monotonic() < self.deadline[0]:
            try:
                operation, status, ms, expected = self.step()
            except (OSError, http.client.HTTPException) as exc:
                self.errors[("connection", type(exc).__name__)] += 1
                self.connection.close()
                continue
            self.samples[operation].append(ms)
            self.statuses[(operation, status)] += 1
            if status not in expected:
                self.errors[(operation, status)] += 1
        self.connection.close()


def percentile(values, fraction):
    """Nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return round(ordered[int(rank) - 1], 2)


def run(url, tokens, namespace, clients=16, seconds=20.0, seed=1):
    """Run the mix; the report as a dict (see `table()` for the human form).

    `tokens`: one or more tokens that may write to `namespace`; client `i`
    uses `tokens[i % len(tokens)]`.
    """
    if isinstance(tokens, str):
        tokens = [tokens]
    target = urlsplit(url)
    start, deadline = threading.Event(), [float("inf")]
    threads = [
        Client(i, target, tokens[i % len(tokens)], namespace, seed, start, deadline)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    # Setup is done when every client waits on `start` (or has failed).
    while any(t.is_alive() and not t.setup_error and t.serial == 0 for t in threads):
        time.sleep(0.05)
    time.sleep(0.2)
    failed = [str(t.setup_error) for t in threads if t.setup_error]
    if failed:
        start.set()
        raise RuntimeError("setup failed: " + "; ".join(failed))
    began = time.monotonic()
    deadline[0] = began + seconds
    start.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    samples, statuses, errors = (
        collections.defaultdict(list),
        collections.Counter(),
        collections.Counter(),
    )
    connections = 0
    for thread in threads:
        for operation, values in thread.samples.items():
            samples[operation].extend(values)
        statuses.update(thread.statuses)
        errors.update(thread.errors)
        connections += thread.connection.opened
    everything = [ms for values in samples.values() for ms in values]
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "seed": seed,
        "requests": len(everything),
        "connections_opened": connections,
        "throughput_rps": round(len(everything) / elapsed, 1),
        "overall": {
            "count": len(everything),
            "p50_ms": percentile(everything, 0.50),
            "p99_ms": percentile(everything, 0.99),
            "max_ms": round(max(everything), 2) if everything else None,
        },
        "operations": {
            operation: {
                "count": len(values),
                "rps": round(len(values) / elapsed, 1),
                "p50_ms": percentile(values, 0.50),
                "p99_ms": percentile(values, 0.99),
                "max_ms": round(max(values), 2),
            }
            for operation, values in sorted(samples.items())
        },
        "statuses": {f"{op} {status}": n for (op, status), n in sorted(statuses.items(), key=str)},
        "errors": {f"{op} {status}": n for (op, status), n in sorted(errors.items(), key=str)},
        "expected_409s": statuses.get(("stale_put", 409), 0),
    }


def table(report, title=""):
    """The report as a plain-text table."""
    lines = []
    if title:
        lines.append(title)
    lines.append(
        f"{report['clients']} clients, {report['seconds']} s: {report['requests']} requests, "
        f"{report['throughput_rps']} req/s, {report['connections_opened']} connections opened"
    )
    lines.append(
        f"{'operation':<12}{'count':>8}{'req/s':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
    )
    rows = [*report["operations"].items(), ("overall", report["overall"])]
    for name, row in rows:
        rps = row.get("rps", report["throughput_rps"])
        lines.append(
            f"{name:<12}{row['count']:>8}{rps:>9}{row['p50_ms']:>10}{row['p99_ms']:>10}"
            f"{row['max_ms']:>10}"
        )
    lines.append("statuses: " + ", ".join(f"{k}: {v}" for k, v in report["statuses"].items()))
    errors = report["errors"]
    lines.append(
        "errors: "
        + (", ".join(f"{k}: {v}" for k, v in errors.items()) if errors else "none")
        + f" (expected 409s: {report['expected_409s']})"
    )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--token", required=True, action="append", help="may write to --namespace (repeatable)"
    )
    parser.add_argument("--namespace", required=True, help="where the load-<n> environments live")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args()
    report = run(args.url, args.token, args.namespace, args.clients, args.seconds, args.seed)
    print(table(report))
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
