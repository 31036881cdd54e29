"""A remote `terraform plan` and `apply -auto-approve` (TFE v2, run on a
worker) against local ones.

Terraform 1.6.6 plans the same configuration (3 `terraform_data` resources,
applied once, so the plan has no changes) in two working directories, each
initialised once beforehand: one with the local-file backend, one with
`cloud {}` on this server over HTTPS, whose plan uploads the directory,
queues a speculative run, and streams its log while a worker (`run_worker`,
polling every 0.2 s) runs Terraform 1.6.6 in the sandbox. Then each applies
a one-resource change (`-var tick=N`) with `-auto-approve`: remotely that is
a run that plans, is applied automatically and writes the state. Rounds
alternate; the wall time of each command is measured, and for the remote
applies the time from the run's confirmation to its apply's start.
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

CONFIG = (
    bench_doors.CONFIG
    + """
variable "tick" {{
  type    = string
  default = "0"
}}

resource "terraform_data" "tick" {{ input = var.tick }}
"""
)
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
        applies = {"local": [], "remote": []}
        for tick in range(1, args.rounds + 1):
            for name, terraform in (("local", local), ("remote", remote)):
                started = time.monotonic()
                applied = terraform(
                    "apply", "-auto-approve", "-no-color", "-input=false", "-var", f"tick={tick}"
                )
                applies[name].append(time.monotonic() - started)
                assert "1 added, 0 changed, 1 destroyed" in applied.stdout or (
                    "0 added, 1 changed, 0 destroyed" in applied.stdout
                ), applied.stdout
        waits = confirmed_to_applying(env, args.rounds)
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
    apply_summary = {name: common.summary(values) for name, values in applies.items()}
    waits_summary = common.summary(waits)
    print(
        f"apply -auto-approve: local {apply_summary['local']['median']:.2f} s, "
        f"remote {apply_summary['remote']['median']:.2f} s; confirmed -> applying "
        f"{waits_summary['median']:.2f} s (max {waits_summary['max']:.2f})",
        flush=True,
    )
    return {
        "seconds": summary,
        "overhead_seconds": overhead,
        "apply_seconds": apply_summary,
        "confirmed_to_applying_seconds": waits_summary,
    }


WAITS = """
from runs.models import Run
runs = Run.objects.filter(auto_applied=True).exclude(applying_at=None).order_by("-id")[:{count}]
for run in runs:
    print("wait", (run.applying_at - run.confirmed_at).total_seconds())
"""


def confirmed_to_applying(env, count):
    """Seconds from confirmation to the apply's start of the last `count` auto-applies."""
    output = common.manage(env, "shell", "-c", WAITS.format(count=count))
    return [float(line.split()[1]) for line in output.splitlines() if line.startswith("wait ")]


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
