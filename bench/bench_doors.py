"""The http backend and the TFE v2 door against the atlas door, same run.

1. State traffic of a 1.4 MB state on one server: GET through the atlas door
   (`X-Atlas-Token`) against GET through the http door (Basic auth), and PUT
   (atlas) against POST (http) of a new serial each time. Requests per
   second with raw-socket clients, and CPU time per request of the gunicorn
   workers (user + sys over the requests served), in alternating rounds.
2. The TFE door's overhead for Terraform 1.6.6: `terraform init` + `terraform
   plan` of a small configuration (3 `terraform_data` resources, applied
   once) through `cloud {}` over HTTPS, against the same configuration with
   the local-file backend, alternating, a fresh working directory each time.
"""

import argparse
import base64
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_get
import common
import statefile

sys.path.insert(0, str(common.ROOT))

SERIAL = re.compile(rb'"serial": \d+')

CONFIG = """
terraform {{{backend}
}}

resource "terraform_data" "node" {{
  count = 3
  input = "node-${{count.index}}"
}}

output "nodes" {{ value = terraform_data.node[*].output }}
"""
CLOUD = """
  cloud {{
    hostname     = "{host}"
    organization = "bench"
    workspaces {{ name = "plan-overhead" }}
  }}"""


def get_load(port, request_bytes, expected_length, seconds, clients):
    """(requests, elapsed) of GETs with bench_get's clients."""
    return bench_get.load(port, request_bytes, expected_length, seconds, clients)


def write_load(port, method, path, headers, body, serial, count):
    """(requests, elapsed) of `count` sequential writes of new serials."""
    started = time.monotonic()
    for offset in range(count):
        data = SERIAL.sub(f'"serial": {serial + offset}'.encode(), body, count=1)
        status, answer = common.request(port, method, path, None, data, headers)
        if status != 200:
            raise RuntimeError(f"{method} answered {status}: {answer[:200]}")
    return count, time.monotonic() - started


def measure(workers, action):
    before = common.cpu_seconds(workers)
    requests, elapsed = action()
    return requests / elapsed, (common.cpu_seconds(workers) - before) / requests * 1000


def state_traffic(args, env, token, tmp):
    body = statefile.state_bytes(1_400_000)
    path = "/api/v1/terraform/state/bench/doors"
    basic = base64.b64encode(f"bench:{token}".encode()).decode()
    atlas_headers = {"Content-Type": "application/json", "X-Atlas-Token": token}
    http_headers = {"Content-Type": "application/json", "Authorization": f"Basic {basic}"}
    results = {name: {"rps": [], "cpu_ms": []} for name in ("atlas GET", "http GET")}
    results.update({name: {"rps": [], "cpu_ms": []} for name in ("atlas PUT", "http POST")})
    with common.serving("atlas.wsgi:application", env, args.workers) as (port, master):
        workers = common.worker_pids(master)
        serial = 1
        status, _ = common.request(port, "PUT", path, None, body, atlas_headers)
        assert status == 200, status
        requests = {
            "atlas GET": f"X-Atlas-Token: {token}",
            "http GET": f"Authorization: Basic {basic}",
        }
        prepared = {
            name: (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}\r\nConnection: close\r\n\r\n"
            ).encode()
            for name, header in requests.items()
        }
        size = len(body)
        for raw in prepared.values():  # warm-up
            get_load(port, raw, size, 1, args.clients)
        for _round in range(args.rounds):
            for name, raw in prepared.items():
                rate, cpu = measure(
                    workers, lambda raw=raw: get_load(port, raw, size, args.seconds, args.clients)
                )
                results[name]["rps"].append(rate)
                results[name]["cpu_ms"].append(cpu)
            for name, method, headers in (
                ("atlas PUT", "PUT", atlas_headers),
                ("http POST", "POST", http_headers),
            ):
                serial += args.writes + 1
                rate, cpu = measure(
                    workers,
                    lambda method=method, headers=headers, serial=serial: write_load(
                        port, method, path, headers, body, serial, args.writes
                    ),
                )
                results[name]["rps"].append(rate)
                results[name]["cpu_ms"].append(cpu)
    summary = {
        name: {key: common.summary(values) for key, values in found.items()}
        for name, found in results.items()
    }
    for name, found in summary.items():
        print(
            f"{name}: {found['rps']['median']:.1f} req/s, "
            f"{found['cpu_ms']['median']:.2f} ms CPU/request",
            flush=True,
        )
    return {"state_bytes": len(body), "results": summary}


def tls_server(env, tmp):
    from atlas.tls import local_tls

    tls = local_tls(tmp / "ca")
    port = common.free_port()
    command = common.gunicorn_command(
        "atlas.wsgi:application", port, 2, ["--certfile", str(tls.cert), "--keyfile", str(tls.key)]
    )
    log = open(tmp / "tls-gunicorn.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, cwd=common.ROOT, env=env, stdout=log, stderr=log)
    context = ssl.create_default_context(cafile=str(tls.ca))
    deadline = time.monotonic() + 60
    while True:
        try:
            import urllib.request

            urllib.request.urlopen(f"https://localhost:{port}/healthz", context=context).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp / "tls-gunicorn.log").read_text()) from None
            time.sleep(0.2)
    return process, port, tls


def local_workspace(port, tls, token):
    """Create the workspace with local execution (new ones run remotely)."""
    import json
    import urllib.request

    body = {"data": {"type": "workspaces", "attributes": {"name": "plan-overhead",
                                                          "execution-mode": "local"}}}  # fmt: skip
    request = urllib.request.Request(
        f"https://localhost:{port}/api/v2/organizations/bench/workspaces",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.api+json"},
    )
    context = ssl.create_default_context(cafile=str(tls.ca))
    urllib.request.urlopen(request, context=context).read()


def terraform_overhead(args, env, token, tmp):
    from atlas.testing.terraform import Terraform

    process, port, tls = tls_server(env, tmp)
    host = f"localhost:{port}"
    cli = f'credentials "{host}" {{\n  token = "{token}"\n}}\n'
    try:
        seed_local = Terraform(tmp / "seed-local", "1.6.6", CONFIG.format(backend=""))
        seed_local.init()
        seed_local.apply()
        local_workspace(port, tls, token)  # state only: this measures the state door
        seed_cloud = Terraform(
            tmp / "seed-cloud",
            "1.6.6",
            CONFIG.format(backend=CLOUD.format(host=host)),
            ca=tls.ca,
            cli_config=cli,
        )
        seed_cloud.init()
        seed_cloud.apply()
        times = {"local": [], "cloud": []}
        for index in range(args.terraform_rounds):
            for name in ("local", "cloud"):
                backend = "" if name == "local" else CLOUD.format(host=host)
                terraform = Terraform(
                    tmp / f"{name}-{index}",
                    "1.6.6",
                    CONFIG.format(backend=backend),
                    ca=tls.ca,
                    cli_config=cli,
                )
                if name == "local":
                    shutil.copy(seed_local.directory / "terraform.tfstate", terraform.directory)
                started = time.monotonic()
                terraform.init()
                plan = terraform("plan", "-no-color", "-input=false")
                times[name].append(time.monotonic() - started)
                assert "No changes" in plan.stdout, plan.stdout
    finally:
        process.terminate()
        process.wait(20)
    summary = {name: common.summary(values) for name, values in times.items()}
    overhead = summary["cloud"]["median"] - summary["local"]["median"]
    print(
        f"init+plan: local {summary['local']['median']:.2f} s, "
        f"cloud {summary['cloud']['median']:.2f} s, overhead {overhead:.2f} s",
        flush=True,
    )
    return {"seconds": summary, "overhead_seconds": overhead}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--terraform-rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-doors-") as tmp:
        tmp = Path(tmp)
        env, token = common.prepare(tmp / "data")
        env = {**env, "CHECKPOINT_DISABLE": "1"}
        traffic = state_traffic(args, env, token, tmp)
        overhead = terraform_overhead(args, env, token, tmp)
    common.emit(
        "doors",
        {
            "rounds": args.rounds,
            "seconds_per_round": args.seconds,
            "writes_per_round": args.writes,
            "workers": args.workers,
            "clients": args.clients,
            "state": traffic,
            "terraform_init_plan": overhead,
        },
    )


if __name__ == "__main__":
    main()
