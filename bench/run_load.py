"""Run the load mix (`load.py`) against the server under gunicorn, on SQLite
and on PostgreSQL, and print the figures.

For each database: a fresh data directory (keys, blobs; the SQLite file)
or a fresh PostgreSQL database on 127.0.0.1:5432 (role postgres, trust
auth; created here and dropped afterwards), `migrate`, then the seed: an
organization `loadtest` administered by user `bench`, `--users` members with
write access and a token each, and `--seeded` environments with a state so
the listing has pages to walk. Then gunicorn serves `atlas.wsgi:application`
(by default as `make serve` does: sync workers) and `load.run()` drives
`--clients` clients for `--seconds` seconds. Results go to stdout and to
`bench/results/load_<database>.json`; the exit code is 1 when any request
got an unexpected answer (anything but the stale PUTs' 409s).

From the repository root:

    .venv/bin/python bench/run_load.py                        # both, 16 clients, 20 s
    .venv/bin/python bench/run_load.py --databases sqlite --seconds 10
    .venv/bin/python bench/run_load.py --worker-class gthread --threads 4   # keep-alive
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import load

POSTGRES = "postgres://postgres@127.0.0.1:5432/{name}"

SEED = """
import json
from accounts import tokens
from accounts.models import Level, Membership, User
from accounts.services import create_organization
from environments.lookup import create_environment
from states import services

bench = User.objects.get(username="bench")
organization = create_organization(bench, "loadtest")
issued = []
for index in range({users}):
    user = User(username=f"load{{index}}")
    user.set_password("unused-password-1")
    user.save()
    Membership.objects.create(organization=organization, user=user, level=Level.WRITE)
    issued.append(tokens.issue(user, description="load")[1])
for index in range({seeded}):
    environment = create_environment(organization.namespace, f"seeded-{{index}}", user=bench)
    body = json.dumps(
        {{"version": 3, "serial": 1, "lineage": f"seeded-{{index}}", "modules": []}}
    ).encode()
    services.write_state(environment, body, user=bench)
print(json.dumps(issued))
"""


def psql(sql):
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc", sql],
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def database(kind):
    """The DATABASE_URL of a fresh database of `kind` (None: SQLite in the data dir)."""
    if kind == "sqlite":
        yield None
        return
    name = f"atlas_load_{os.getpid()}"
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES.format(name=name)
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def prepare(data_dir, database_url, users, seeded):
    """Migrate and seed; (server environment, member tokens)."""
    env = common.server_env(data_dir)
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    common.manage(env, "migrate", "--verbosity", "0")
    common.manage(env, "shell", "-c", common.SETUP_USER)
    output = common.manage(env, "shell", "-c", SEED.format(users=users, seeded=seeded))
    return env, json.loads(output.strip().splitlines()[-1])


@contextlib.contextmanager
def serving(env, workers, worker_class, threads):
    """gunicorn with `atlas.wsgi:application`, like common.serving plus a worker class."""
    port = common.free_port()
    extra = ["--worker-class", worker_class]
    if worker_class == "gthread":
        extra += ["--threads", str(threads)]
    command = common.gunicorn_command("atlas.wsgi:application", port, workers)
    # common.gunicorn_command fixes the sync worker class; ours comes last and wins.
    command += extra
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(command, cwd=common.ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while len(common.worker_pids(process.pid)) < workers or not common._answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(log.read().decode(errors="replace"))
            time.sleep(0.2)
        time.sleep(0.5)
        yield port, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def server_log(log):
    log.seek(0)
    return log.read().decode(errors="replace")


def run_one(kind, args):
    with database(kind) as url, tempfile.TemporaryDirectory() as tmp:
        env, tokens = prepare(Path(tmp), url, args.users, args.seeded)
        with serving(env, args.workers, args.worker_class, args.threads) as (port, log):
            report = load.run(
                f"http://127.0.0.1:{port}",
                tokens,
                "loadtest",
                clients=args.clients,
                seconds=args.seconds,
                seed=args.seed,
            )
            errors_logged = [
                line
                for line in server_log(log).splitlines()
                if "Traceback" in line or "ERROR" in line
            ]
    report.update(
        database=kind,
        gunicorn={"workers": args.workers, "worker_class": args.worker_class,
                  "threads": args.threads if args.worker_class == "gthread" else 1},
        users=args.users,
        seeded_environments=args.seeded,
        server_errors_logged=len(errors_logged),
        command=" ".join([Path(sys.executable).name, *sys.argv]),
    )  # fmt: skip
    return report


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="per worker, with gthread")
    parser.add_argument("--users", type=int, default=4, help="members, one token each")
    parser.add_argument("--seeded", type=int, default=100, help="environments with a state")
    args = parser.parse_args()
    failed = False
    reports = []
    for kind in [name.strip() for name in args.databases.split(",") if name.strip()]:
        if kind not in ("sqlite", "postgres"):
            parser.error(f"unknown database {kind!r}")
        report = run_one(kind, args)
        reports.append(report)
        suffix = "" if args.worker_class == "sync" else f"_{args.worker_class}"
        common.emit(f"load_{kind}{suffix}", report)
        failed = failed or bool(report["errors"])
    for report in reports:
        print()
        print(load.table(report, title=f"== {report['database']}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
