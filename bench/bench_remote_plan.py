"""A remote `terraform plan` (TFE v2, run on a worker) against a local one.

Terraform 1.6.6 plans the same configuration (3 `terraform_data` resources,
applied once, so the plan has no changes) in two working directories, each
initialised once beforehand: one with the local-file backend, one with
`cloud {}` on this server over HTTPS, whose plan uploads the directory,
queues a speculative run, and streams its log while a worker (`run_worker`,
polling every 0.2 s) runs Terraform 1.6.6 in the sandbox. Rounds
alternate; the wall time of `terraform plan` is measured in each.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_doors
import common

CONFIG = bench_doors.CONFIG
CLOUD = """
  cloud {{
    hostname     = "{host}"
    organization = "bench"
    workspaces {{ name = "remote-plan" }}
  }}"""


def start_worker(env, address, ca, tmp):
    worker_env = {
        **env,
        "ATLAS_RUN_ADDRESS": address,
        "SSL_CERT_FILE": str(ca),
        "ATLAS_RUN_HEARTBEAT_SECONDS": "1",
    }
    log = open(tmp / "worker.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--interval", "0.2"],
        cwd=common.ROOT,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def measure(args, env, token, tmp):
    sys.path.insert(0, str(common.ROOT))
    from atlas.testing.terraform import Terraform

    common.manage(env, "install_terraform", "1.6.6")
    server, port, tls = bench_doors.tls_server(env, tmp)
    host = f"localhost:{port}"
    worker = start_worker(env, f"https://localhost:{port}", tls.ca, tmp)
    cli = f'credentials "{host}" {{\n  token = "{token}"\n}}\n'
    try:
        local = Terraform(tmp / "local", "1.6.6", CONFIG.format(backend=""))
        remote = Terraform(
            tmp / "remote",
            "1.6.6",
            CONFIG.format(backend=CLOUD.format(host=host)),
            ca=tls.ca,
            cli_config=cli,
        )
        for terraform in (local, remote):
            terraform.init()
            applied = terraform.apply(check=False)
            assert applied.returncode == 0, applied.stdout + applied.stderr
        times = {"local": [], "remote": []}
        for _round in range(args.rounds):
            for name, terraform in (("local", local), ("remote", remote)):
                started = time.monotonic()
                plan = terraform("plan", "-no-color", "-input=false")
                times[name].append(time.monotonic() - started)
                assert "No changes" in plan.stdout, plan.stdout
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
        server.terminate()
        server.wait(20)
    summary = {name: common.summary(values) for name, values in times.items()}
    overhead = summary["remote"]["median"] - summary["local"]["median"]
    print(
        f"plan: local {summary['local']['median']:.2f} s, "
        f"remote {summary['remote']['median']:.2f} s, overhead {overhead:.2f} s",
        flush=True,
    )
    return {"seconds": summary, "overhead_seconds": overhead}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-remote-plan-") as tmp:
        tmp = Path(tmp)
        env, token = common.prepare(tmp / "data")
        env = {**env, "CHECKPOINT_DISABLE": "1"}
        result = measure(args, env, token, tmp)
    common.emit("remote_plan", {"rounds": args.rounds, "plan": result})


if __name__ == "__main__":
    main()
