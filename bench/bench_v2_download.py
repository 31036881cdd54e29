"""The TFE v2 state download against the atlas door's GET, and against an
earlier version of the server, same run.

`GET /api/v2/state-versions/sv-<id>/download` is how Terraform's remote
backend and `cloud {}` read a state (local execution; `terraform state
pull`), with `Authorization: Bearer`. The atlas door's GET of the same
state is the reference: both are answered on the fast path
(atlas/fastpath.py). With `--before DIR` (`git archive REF | tar -x -C
DIR`) that version's server answers the same download on the same data.
CPU time per request of the gunicorn workers and requests/s, alternating
rounds, as bench_get.py measures them.
"""

import argparse
import contextlib
import tempfile
from pathlib import Path

import bench_get
import common
import statefile

VERSION_ID = """
from states.models import EnvironmentState
print(EnvironmentState.objects.get(environment__name="s{size}").head_id)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,1400000", help="state sizes in bytes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--before", default="", help="a checkout of an earlier version")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-v2-download-") as tmp:
        env, token = common.prepare(Path(tmp) / "data")
        for size in (int(s) for s in args.sizes.split(",")):
            body = statefile.state_bytes(size)
            atlas_path = f"/api/v1/terraform/state/bench/s{size}"
            with common.serving("atlas.wsgi:application", env, args.workers) as (port, _master):
                headers = {"Content-Type": "application/json"}
                status, _ = common.request(port, "PUT", atlas_path, token, body, headers)
                assert status == 200, status
            version_id = common.manage(env, "shell", "-c", VERSION_ID.format(size=size)).split()[-1]
            download = f"/api/v2/state-versions/sv-{version_id}/download"
            requests = {
                "download": f"GET {download} HTTP/1.1\r\nAuthorization: Bearer {token}\r\n",
                "atlas_get": (
                    f"GET {atlas_path}?atlas_run_id= HTTP/1.1\r\nX-Atlas-Token: {token}\r\n"
                ),
            }
            requests = {
                name: (text + "Host: 127.0.0.1\r\nConnection: close\r\n\r\n").encode()
                for name, text in requests.items()
            }
            with (
                common.serving("atlas.wsgi:application", env, args.workers) as (port, master),
                contextlib.ExitStack() as stack,
            ):
                targets = {
                    name: (port, common.worker_pids(master), request)
                    for name, request in requests.items()
                }
                if args.before:
                    before, before_master = stack.enter_context(
                        common.serving("atlas.wsgi:application", env, args.workers, cwd=args.before)
                    )
                    pids = common.worker_pids(before_master)
                    targets["download_before"] = (before, pids, requests["download"])
                summary = bench_get.alternate(
                    targets, len(body), args.rounds, args.seconds, args.clients
                )
            medians = {name: summary[name]["cpu_ms_per_request"]["median"] for name in targets}
            summary["cpu_download_over_atlas_get"] = medians["download"] / medians["atlas_get"]
            if "download_before" in medians:
                summary["cpu_download_over_before"] = (
                    medians["download"] / medians["download_before"]
                )
            results[str(len(body))] = summary
            print(
                f"{len(body)} bytes, CPU ms per request (median): "
                + ", ".join(f"{name} {value:.3f}" for name, value in medians.items()),
                flush=True,
            )
    common.emit(
        "v2_download",
        {"workers": args.workers, "clients": args.clients, "rounds": args.rounds,
         "seconds_per_round": args.seconds, "results": results},
    )  # fmt: skip


if __name__ == "__main__":
    main()
