"""CPU time of a state PUT (a new serial each time), against an earlier
version of the server on the same data, same run.

Terraform writes a state after every apply, and during a long one every
few seconds: the write path's fixed cost (token, environment and level,
locks, version, head, audit) matters as much as its handling of large
bodies (bench_put.py). Sequential PUTs through the atlas door of a
10 KB and a 1.4 MB state, by default; alternating rounds of `--writes`
requests on each server; CPU time per request of the gunicorn workers
(user + sys over the requests served). `--before DIR` (`git archive REF
| tar -x -C DIR`) is required: the earlier version is the baseline.
"""

import argparse
import contextlib
import functools
import tempfile
from pathlib import Path

import bench_doors
import common
import statefile


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,1400000", help="state sizes in bytes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writes", type=int, default=40, help="PUTs per server per round")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", required=True, help="a checkout of an earlier version")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-put-cpu-") as tmp:
        env, token = common.prepare(Path(tmp) / "data")
        headers = {"Content-Type": "application/json", "X-Atlas-Token": token}
        serial = 1
        for size in (int(s) for s in args.sizes.split(",")):
            body = statefile.state_bytes(size)
            path = f"/api/v1/terraform/state/bench/put{size}"
            cpu = {"server": [], "before": []}
            with contextlib.ExitStack() as stack:
                servers = {}
                for name, cwd in (("server", common.ROOT), ("before", args.before)):
                    port, master = stack.enter_context(
                        common.serving("atlas.wsgi:application", env, args.workers, cwd=cwd)
                    )
                    servers[name] = (port, common.worker_pids(master))
                for _round in range(args.rounds + 1):  # the first round warms up
                    for name, (port, pids) in servers.items():
                        writes = functools.partial(
                            bench_doors.write_load,
                            port, "PUT", path, headers, body, serial, args.writes,
                        )  # fmt: skip
                        _rate, cpu_ms = bench_doors.measure(pids, writes)
                        serial += args.writes
                        if _round:
                            cpu[name].append(cpu_ms)
            summary = {name: common.summary(values) for name, values in cpu.items()}
            ratio = summary["server"]["median"] / summary["before"]["median"]
            results[str(len(body))] = {"cpu_ms_per_request": summary, "server_over_before": ratio}
            print(
                f"{len(body)} bytes, CPU ms per PUT (median): server "
                f"{summary['server']['median']:.2f}, before {summary['before']['median']:.2f}, "
                f"server/before {ratio:.2f}",
                flush=True,
            )
    common.emit(
        "put_cpu",
        {"workers": args.workers, "rounds": args.rounds, "writes": args.writes, "results": results},
    )


if __name__ == "__main__":
    main()
