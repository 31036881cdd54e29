"""Helpers of the end-to-end tests: HTTP against the live server, pushing a
configuration the way `terraform push` does, and a deliberately slow server."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from .factories import archive

# A configuration whose plan always has a change (a data source that
# depends on another is read during apply in Terraform 0.11) and needs no
# provider download: its apply writes the `greeting` output to the state.
CHANGING = """
variable "greeting" { default = "hello" }

data "terraform_remote_state" "anchor" {
  backend = "local"
  config { path = "${path.module}/none.tfstate" }
}

data "terraform_remote_state" "tick" {
  backend    = "local"
  config { path = "${path.module}/none.tfstate" }
  depends_on = ["data.terraform_remote_state.anchor"]
}

output "greeting" { value = "${var.greeting}" }
"""


def request(method, url, token=None, body=None, content_type="application/json"):
    """(status, body bytes, headers) of one request; errors are answers too."""
    data = None
    headers = {}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    if token:
        headers["X-Atlas-Token"] = token
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def push(base, token, slug, files):
    """Create a configuration version and upload its archive, as push does;
    returns the version's number. The upload queues a plan."""
    status, body, _ = request(
        "POST",
        f"{base}/api/v1/terraform/configurations/{slug}/versions",
        token,
        {"version": {"metadata": {"source": "e2e"}, "tf_vars": []}},
    )
    assert status == 201, body
    created = json.loads(body)
    status, body, _ = request(
        "PUT", created["upload_path"], None, archive(files), "application/octet-stream"
    )
    assert status == 200, body
    return created["version"]


def terraform_push(base, token, directory, config, *flags):
    """`terraform init` and `terraform push` of `config`, the real client's way
    (the configuration names the atlas backend; push needs a remote backend)."""
    directory.mkdir()
    (directory / "main.tf").write_text(
        'terraform {\n  backend "atlas" {\n    name    = "acme/app"\n'
        f'    address = "{base}"\n  }}\n}}\n' + config
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(directory),
        "CHECKPOINT_DISABLE": "1",
        "ATLAS_TOKEN": token,
    }
    terraform = str(Path(sys.prefix) / "lib" / "terraform")
    for arguments in (
        ["init", "-input=false", "-no-color"],
        ["push", "-name=acme/app", f"-atlas-address={base}", "-vcs=false", "-no-color", *flags],
    ):
        result = subprocess.run(
            [terraform, *arguments], cwd=directory, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def state(base, token, slug):
    status, body, _ = request("GET", f"{base}/api/v1/terraform/state/{slug}", token)
    return json.loads(body) if status == 200 else None


def outputs(state_body):
    return {
        name: output["value"]
        for module in (state_body or {}).get("modules", [])
        for name, output in module.get("outputs", {}).items()
    }


def outside_address():
    """An address of this machine that is not a loopback one: a server a test
    starts there is, for a run in a network of its own, "the outside world"
    (its loopback is the sandbox's own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("203.0.113.1", 9))  # TEST-NET-3; a UDP connect sends nothing
        return probe.getsockname()[0]


class SlowServer:
    """An HTTP server whose every request hangs until the test ends: a
    Terraform that reads remote state from it stays busy for as long as the
    test needs. It listens outside the loopback, where a run can reach it."""

    def __init__(self):
        release = self.release = threading.Event()
        self.requests = threading.Event()
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.set()
                release.wait(120)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.host = outside_address()
        self.server = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://{self.host}:{self.server.server_port}/state"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def slow_configuration(url):
    return (
        'data "terraform_remote_state" "slow" {\n'
        '  backend = "http"\n'
        f'  config {{ address = "{url}" }}\n'
        "}\n"
        'output "x" { value = "y" }\n'
    )
