"""PUT of a 50 MB state: wall time and peak memory of the serving process.

Baselines, measured in the same run on the same machine:
- `script`: a plain script that reads the body, hashes it (MD5 and SHA-256)
  and writes it to disk;
- `bare`: the same work in a bare WSGI app under the same gunicorn settings
  (bench/bare_wsgi.py), timed from the client like the real server.
The real server: one gunicorn sync worker, a SQLite file, the body sent the
way Terraform sends it (Content-Type, Content-MD5, Content-Length).
Peak memory is the worker's VmHWM minus its idle VmRSS (peak reset before
each PUT through /proc/<pid>/clear_refs).
"""

import argparse
import base64
import hashlib
import tempfile
import time
import uuid
from pathlib import Path

import common
import statefile


def script_baseline(body_path, out_dir):
    started = time.perf_counter()
    body = Path(body_path).read_bytes()
    hashlib.md5(body).hexdigest()
    hashlib.sha256(body).hexdigest()
    (out_dir / uuid.uuid4().hex).write_bytes(body)
    return time.perf_counter() - started


def timed_put(port, worker, token, path, body):
    headers = {
        "Content-Type": "application/json",
        "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
    }
    common.reset_peak(worker)
    idle = common.memory_kib(worker, "VmRSS")
    started = time.perf_counter()
    status, answer = common.request(port, "PUT", path, token, body, headers)
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"PUT answered {status}: {answer[:300]!r}")
    peak = common.memory_kib(worker, "VmHWM")
    return elapsed, (peak - idle) * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-put-") as tmp:
        tmp = Path(tmp)
        size = int(args.megabytes * 1_000_000)
        body = statefile.state_bytes(size)
        body_path = tmp / "state.json"
        body_path.write_bytes(body)
        out = tmp / "out"
        out.mkdir()
        env, token = common.prepare(tmp / "data")
        bare_env = {**env, "BENCH_TOKEN": token, "BENCH_OUT": str(out)}
        times = {"script": [], "bare": [], "server": []}
        memory = {"bare": [], "server": []}
        path = "/api/v1/terraform/state/bench/big"
        with (
            common.serving("atlas.wsgi:application", env, workers=1) as (port, master),
            common.serving("bench.bare_wsgi:app", bare_env, workers=1) as (bare_port, bare_master),
        ):
            worker = common.worker_pids(master)[0]
            bare_worker = common.worker_pids(bare_master)[0]
            # Warm both up with a small body, so imports and connections are not measured.
            small = statefile.state_bytes(10_000, serial=1)
            timed_put(port, worker, token, path, small)
            timed_put(bare_port, bare_worker, token, path, small)
            for round_number in range(args.rounds):
                times["script"].append(script_baseline(body_path, out))
                elapsed, peak = timed_put(bare_port, bare_worker, token, path, body)
                times["bare"].append(elapsed)
                memory["bare"].append(peak)
                serial_body = statefile.with_serial(body, round_number + 2)
                elapsed, peak = timed_put(port, worker, token, path, serial_body)
                times["server"].append(elapsed)
                memory["server"].append(peak)
        result = {
            "body_bytes": len(body),
            "rounds": args.rounds,
            "seconds": {name: common.summary(values) for name, values in times.items()},
            "peak_bytes_above_idle": {
                name: common.summary(values) for name, values in memory.items()
            },
        }
        server = result["seconds"]["server"]["median"]
        result["ratios"] = {
            "time_vs_script": server / result["seconds"]["script"]["median"],
            "time_vs_bare_wsgi": server / result["seconds"]["bare"]["median"],
            "peak_memory_vs_body": result["peak_bytes_above_idle"]["server"]["median"] / len(body),
        }
        common.emit("put_50mb", result)


if __name__ == "__main__":
    main()
