"""The state listing at 100 and at 10,000 environments: latency and queries.

For each size, a child process gets a fresh database (a SQLite file by
default; with --database-url postgres://.../name, a database `name_<size>`
created and dropped here) holding `size` environments with state that the
caller may read and as many in another organization that they may not.
It then times GET /api/v1/terraform/state through Django's test client (no
network, so only the server's work is measured) and counts the queries.
Both children stay up and rounds alternate between them, so the noise of a
shared machine falls on both sizes alike; each figure is the median over
rounds of each round's median.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

PATHS = {
    "first page": "/api/v1/terraform/state",
    "first page, 100 per page": "/api/v1/terraform/state?per_page=100",
    "one namespace": "/api/v1/terraform/state?username=acme",
    "deep page (offset size/2)": "/api/v1/terraform/state?page={deep}",
}


def child(size, requests):
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts import services, tokens
    from accounts.models import User
    from environments.models import Environment
    from states.models import EnvironmentState, StateVersion

    call_command("migrate", verbosity=0)
    if os.environ.get("BENCH_CONN_MAX_AGE"):
        # What-if: the project's settings close SQLite connections after each request.
        connection.settings_dict["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
    reader = User(username="reader")
    reader.set_password("unused-password-1")
    reader.save()
    stranger = User(username="stranger")
    stranger.set_password("unused-password-1")
    stranger.save()
    acme = services.create_organization(reader, "acme")
    other = services.create_organization(stranger, "other")
    now = timezone.now()
    for organization in (acme, other):
        environments = Environment.objects.bulk_create(
            Environment(namespace=organization.namespace, name=f"env{i}") for i in range(size)
        )
        versions = StateVersion.objects.bulk_create(
            StateVersion(
                environment=environment,
                serial=1,
                lineage="l",
                md5="0" * 32,
                sha256="0" * 64,
                size=1,
                blob_name=f"states/fake{environment.pk}",
                blob_key_id="k",
            )
            for environment in environments
        )
        EnvironmentState.objects.bulk_create(
            EnvironmentState(
                environment=version.environment,
                namespace=organization.namespace,
                head=version,
                max_serial=1,
                updated_at=now - timedelta(seconds=index),
            )
            for index, version in enumerate(versions)
        )
    if connection.vendor == "postgresql":
        # Autovacuum vacuums and analyzes a table this size soon after the inserts;
        # nothing ever analyzes a SQLite database of this server.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    client = Client(HTTP_X_ATLAS_TOKEN=tokens.issue(reader)[1])
    print("ready", flush=True)
    for _command in sys.stdin:
        print(json.dumps(measure(client, connection, size, requests)), flush=True)


def measure(client, connection, size, requests):
    results = {}
    for label, path in PATHS.items():
        path = path.format(deep=max(1, size // 40))
        for _ in range(20):
            assert client.get(path).status_code == 200
        queries = []

        def count(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(path)
        data = response.json()
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
        results[label] = {
            "path": path,
            "queries": len(queries),
            "rows": len(data["states"]),
            "total": data["meta"]["total"],
            "ms": statistics.median(timings),
        }
    return results


class Child:
    """One size's database, set up once, measured on demand."""

    def __init__(self, size, requests, database_url, tmp):
        env = common.server_env(tmp)
        env["DJANGO_SETTINGS_MODULE"] = "atlas.settings"
        env["PYTHONPATH"] = f"{common.ROOT}{os.pathsep}{common.ROOT / 'bench'}"
        self.database_url = database_url
        self.database = None
        if database_url:
            self.database = f"{database_url.rsplit('/', 1)[1]}_{size}"
            env["DATABASE_URL"] = f"{database_url.rsplit('/', 1)[0]}/{self.database}"
            _postgres(database_url, f'DROP DATABASE IF EXISTS "{self.database}"')
            _postgres(database_url, f'CREATE DATABASE "{self.database}"')
        else:
            env.pop("DATABASE_URL", None)
        command = [sys.executable, __file__, "--child", str(size), "--requests", str(requests)]
        self.process = subprocess.Popen(
            command, cwd=common.ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {size} child failed to set up")

    def measure(self):
        self.process.stdin.write("measure\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)
        if self.database:
            _postgres(self.database_url, f'DROP DATABASE IF EXISTS "{self.database}"')


def _postgres(database_url, statement):
    import psycopg

    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(statement)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=int)
    parser.add_argument("--requests", type=int, default=100, help="per path and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--database-url", default="", help="postgres://user@host:port/name")
    parser.add_argument(
        "--conn-max-age",
        default="",
        help="what-if: override CONN_MAX_AGE (settings force 0 on SQLite)",
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests)
        return
    if args.conn_max_age:
        os.environ["BENCH_CONN_MAX_AGE"] = args.conn_max_age
    sizes = [int(size) for size in args.sizes.split(",")]
    rounds = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="bench-list-") as tmp:
        children = {
            size: Child(size, args.requests, args.database_url, Path(tmp) / str(size))
            for size in sizes
        }
        try:
            for _round in range(args.rounds):  # alternate, so noise hits both sizes alike
                for size, child_process in children.items():
                    rounds[size].append(child_process.measure())
        finally:
            for child_process in children.values():
                child_process.close()
    results = {}
    for size, measured in rounds.items():
        results[str(size)] = {
            label: {
                **{k: v for k, v in measured[-1][label].items() if k != "ms"},
                "ms": common.summary([m[label]["ms"] for m in measured]),
            }
            for label in PATHS
        }
    small, large = results[str(sizes[0])], results[str(sizes[-1])]
    ratios = {
        label: {
            "latency_ratio": large[label]["ms"]["median"] / small[label]["ms"]["median"],
            "queries": [small[label]["queries"], large[label]["queries"]],
        }
        for label in PATHS
    }
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    name = "list_states" + ("_postgres" if args.database_url else "")
    name += f"_conn_max_age_{args.conn_max_age}" if args.conn_max_age else ""
    common.emit(
        name,
        {"requests": args.requests, "by_size": results, "large_vs_small": ratios},
    )
    for label, ratio in ratios.items():
        print(f"{label}: x{ratio['latency_ratio']:.2f}, queries {ratio['queries']}")


if __name__ == "__main__":
    main()
