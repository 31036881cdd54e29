"""Runs must not escape: each attack, mounted the way a person with write
access to one environment would mount it, against a real gunicorn server, a
real worker process and the real Terraform 0.11.11, fails; a benign run in
the same module still succeeds, and after an attack the worker serves the
next run of another organization.

One server and one worker serve the whole module (their own SQLite data
directory): every test uses environments of its own.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atlas.testing.cluster import state_body
from runs.relay import PLACEHOLDER_TOKEN
from states.tests.server import ROOT, gunicorn, manage, server_env

from .attacks import (
    LANDED,
    NULL_RESOURCE,
    SPY,
    SPY_BEFORE,
    Collector,
    archive,
    build_preload_library,
    plugin_configuration,
)
from .e2e import CHANGING, outputs, request

pytestmark = [pytest.mark.e2e]

TERMINAL = {"planned", "planned_and_finished", "applied", "errored", "canceled", "discarded"}
WORKER_ENV = {
    "ATLAS_RUN_HEARTBEAT_SECONDS": "1",
    "ATLAS_RUN_STALE_SECONDS": "6",
    "ATLAS_RUN_REAP_SECONDS": "1",
    "ATLAS_RUN_CANCEL_GRACE_SECONDS": "3",
    "CHECKPOINT_DISABLE": "1",
}
SETUP = """
import json
from accounts import tokens
from accounts.models import Level, Membership, User
from accounts.services import create_organization

def person(name):
    user = User(username=name, email=name + "@example.com")
    user.set_password("unused-password-1")
    user.save()
    return user

admin = User.objects.get(username="admin")
alice, bob, stranger = person("alice"), person("bob"), person("stranger")
acme = create_organization(admin, "acme")
Membership.objects.create(organization=acme, user=alice, level=Level.WRITE)
create_organization(bob, "other")
create_organization(stranger, "hidden")
print(json.dumps({
    name: tokens.issue(user, description="sandbox tests")[1]
    for name, user in [("alice", alice), ("bob", bob), ("stranger", stranger)]
}))
"""
STORE_VARIABLE = """
from environments.crypto import seal_variable
from environments.models import Environment, Variable
environment = Environment.objects.get(namespace__name={namespace!r}, name={name!r})
variable = Variable(environment=environment, category="env", key={key!r})
seal_variable(variable, {value!r})
variable.save()
"""


class Atlas:
    """The module's server and worker, and what the tests do with them."""

    def __init__(self, base, env, tokens, worker):
        self.base, self.env, self.tokens, self.worker = base, env, tokens, worker
        self.data_dir = Path(env["ATLAS_DATA_DIR"])
        self.next_runs = 0

    def api(self, method, path, who="alice", body=None):
        url = f"{self.base}/api/v1{path}"
        status, data, headers = request(method, url, self.tokens[who], body)
        is_json = (headers.get("Content-Type") or "").startswith("application/json")
        return status, (json.loads(data) if is_json and data else data)

    def environment(self, slug, who="alice", auto_apply=False):
        username, name = slug.split("/")
        status, body = self.api(
            "POST",
            "/environments",
            who,
            {"environment": {"username": username, "name": name, "auto_apply": auto_apply}},
        )
        assert status == 201, body

    def store_variable(self, slug, key, value):
        """An environment variable row written past the name rule, as one
        stored before its name was refused."""
        namespace, name = slug.split("/")
        manage(self.env, "shell", "-c", STORE_VARIABLE.format(**locals()))

    def push(self, slug, files, who="alice"):
        """Create a configuration version and upload it (queues a plan); the run."""
        status, body = self.api(
            "POST",
            f"/terraform/configurations/{slug}/versions",
            who,
            {"version": {"metadata": {}, "tf_vars": []}},
        )
        assert status == 201, body
        status, data, _ = request(
            "PUT", body["upload_path"], None, archive(files), "application/octet-stream"
        )
        assert status == 200, data
        status, runs = self.api("GET", f"/environments/{slug}/runs", who)
        assert status == 200, runs
        return runs["runs"][0]["id"]

    def wait(self, run_id, statuses=TERMINAL, who="admin", timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.api("GET", f"/runs/{run_id}", who)
            assert status == 200, body
            if body["run"]["status"] in statuses:
                return body["run"]
            assert self.worker.poll() is None, self.worker_log()
            time.sleep(0.3)
        log = self.log(run_id, who=who)
        raise AssertionError(f"run {run_id} still {body['run']['status']}:\n{log}")

    def log(self, run_id, phase="plan", who="admin"):
        status, body = self.api("GET", f"/runs/{run_id}/logs/{phase}", who)
        assert status == 200
        return body.decode()

    def land_after(self, slug, after, attempts=5):
        """Push a configuration whose plugin runs `after` once the plan is
        written, on a fresh environment each time until the attack lands
        before Terraform exits (it races Terraform's plugin shutdown); the
        run, its id and its plan log. A run whose attack lost the race must
        be a clean plan."""
        for attempt in range(1, attempts + 1):
            name = slug if attempt == 1 else f"{slug}-{attempt}"
            self.environment(name)
            run_id = self.push(name, plugin_configuration(after=after))
            run = self.wait(run_id)
            log = self.log(run_id)
            if LANDED in log:
                return run_id, run, log
            assert run["status"] == "planned", log
        raise AssertionError(f"the attack never ran before Terraform exited in {attempts} tries")

    def worker_log(self):
        return (self.data_dir / "worker.log").read_text(errors="replace")

    def serves_another_organization(self):
        """The worker is free: bob's next run, in another organization, plans."""
        self.next_runs += 1
        slug = f"other/next{self.next_runs}"
        run_id = self.push(slug, {"main.tf": CHANGING}, who="bob")
        run = self.wait(run_id, who="bob")
        assert run["status"] == "planned", self.log(run_id, who="bob")


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("atlas")
    data_dir.chmod(0o755)
    with gunicorn(data_dir, workers=2, threads=4, **WORKER_ENV) as (base, admin_token):
        env = server_env(data_dir, ATLAS_RUN_ADDRESS=base, **WORKER_ENV)
        tokens = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
        tokens["admin"] = admin_token
        with open(data_dir / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "run_worker", "--interval", "0.2"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield Atlas(base, env, tokens, worker)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


@pytest.fixture
def collector():
    server = Collector()
    yield server
    server.close()


def test_a_benign_run_plans_applies_and_writes_its_state_through_the_sealed_sandbox(atlas):
    atlas.environment("acme/control", auto_apply=True)
    run_id = atlas.push("acme/control", {"main.tf": CHANGING})
    run = atlas.wait(run_id, TERMINAL - {"planned"})
    assert run["status"] == "applied", atlas.log(run_id) + atlas.log(run_id, "apply")
    log = atlas.log(run_id)
    assert "[atlas] Terraform runs in a sandbox." in log
    assert "[atlas] The run has a network of its own" in log
    status, body, _ = request(
        "GET", f"{atlas.base}/api/v1/terraform/state/acme/control", atlas.tokens["alice"]
    )
    assert status == 200
    assert outputs(json.loads(body)) == {"greeting": "hello"}


def test_a_loader_variable_runs_no_code_on_the_worker_and_path_picks_no_helper(atlas, tmp_path):
    """LD_PRELOAD used to reach bubblewrap itself (code on the host, as the
    worker); PATH chose which `git` Terraform starts while fetching modules."""
    tmp_path.chmod(0o755)
    marker = tmp_path / "preload-ran"
    library = build_preload_library(tmp_path, marker)
    atlas.environment("acme/loader")
    atlas.store_variable("acme/loader", "LD_PRELOAD", str(library))
    atlas.store_variable("acme/loader", "PATH", "bin:/usr/local/bin:/usr/bin:/bin")
    fake_git = "#!/bin/sh\necho ATTACKER-GIT-RAN >&2\nexit 1\n"
    config = 'module "fetched" {\n  source = "git::https://example.invalid/module.git"\n}\n'
    run_id = atlas.push("acme/loader", {"main.tf": config, "bin/git": (fake_git, 0o755)})
    run = atlas.wait(run_id)
    log = atlas.log(run_id)
    assert not marker.exists(), marker.read_text()
    assert "The environment variable LD_PRELOAD is not applied: it changes which libraries" in log
    assert "The environment variable PATH is not applied: it changes which programs run" in log
    assert "ATTACKER-GIT-RAN" not in log
    assert run["status"] == "errored"  # the module's repository does not exist
    assert "terraform init failed" in run["message"]


def test_a_plan_file_swapped_for_a_link_to_a_host_file_is_refused(atlas):
    keys = atlas.data_dir / "keys.json"
    secret = keys.read_text()
    swap = f'rm -f "$1" && ln -s {keys} "$1"\n'
    run_id, run, log = atlas.land_after("acme/symlink", swap)
    assert run["status"] == "errored", log
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in log  # the plan itself went through
    assert "The plan is rejected: The plan file out/plan.tfplan is a symbolic link." in log
    assert run["message"].startswith("The plan is rejected")
    for piece in json.loads(secret)["keys"].values():
        assert piece not in log
    assert atlas.api("POST", f"/runs/{run_id}/actions/confirm")[0] == 409
    atlas.serves_another_organization()


def test_a_plan_file_swapped_for_a_fifo_neither_blocks_the_worker_nor_the_queue(atlas):
    _, run, log = atlas.land_after("acme/fifo", 'rm -f "$1" && mkfifo "$1"\n')
    assert run["status"] == "errored", log
    assert "The plan file out/plan.tfplan is a FIFO." in log
    atlas.serves_another_organization()


def test_a_plan_left_with_strangers_beside_it_is_refused(atlas):
    _, run, log = atlas.land_after("acme/litter", 'ln -s / "$1.d"\n')
    assert run["status"] == "errored", log
    assert "left files beside the plan: plan.tfplan.d" in log


def test_the_run_token_does_only_a_runs_job_and_the_run_reaches_no_loopback_service(
    atlas, collector
):
    """Code in a run (a provider plugin) tries the run's token on every door,
    the worker's loopback, and sends its token elsewhere with a
    `terraform_remote_state`; the queuer is removed from the organization
    while the run goes on."""
    atlas.environment("acme/spy")
    atlas.environment("hidden/secret", who="stranger")
    lineage = "0b6e3c4a-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
    for slug, who in [("hidden/secret", "stranger"), ("acme/spy", "alice")]:
        status, body, _ = request(
            "PUT",
            f"{atlas.base}/api/v1/terraform/state/{slug}",
            atlas.tokens[who],
            state_body(1, lineage, owner=who),
        )
        assert status == 200, body
    listener = socket.socket()  # a service on the worker's loopback
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    base_port = int(atlas.base.rsplit(":", 1)[1])
    spy = {
        "collector": collector.url,
        "own_state": "/api/v1/terraform/state/acme/spy",
        "requests": [
            ["GET", "/api/v1/tokens", None],
            ["POST", "/api/v1/tokens", {"token": {"description": "forever"}}],
            ["GET", "/api/v1/user", None],
            ["POST", "/api/v1/organizations", {"organization": {"name": "spawned"}}],
            ["PUT", "/api/v1/environments/acme/spy/variables", {"variables": {"x": "1"}}],
            ["POST", "/api/v1/terraform/configurations/acme/spy/versions", {"version": {}}],
            ["POST", "/api/v1/environments/acme/control/plan", None],
            ["GET", "/api/v1/terraform/state/hidden/secret", None],
            ["GET", "/api/v1/terraform/state/acme/control", None],
            ["GET", "/api/v1/terraform/state/acme/spy", None],
        ],
        "connect": [
            ["worker loopback", "127.0.0.1", listener.getsockname()[1]],
            ["server port on the loopback", "127.0.0.1", base_port],
            ["outside world", collector.host, collector.server.server_port],
        ],
    }
    config = NULL_RESOURCE + (
        'data "terraform_remote_state" "elsewhere" {\n'
        '  backend = "atlas"\n'
        f'  config {{ name = "acme/anything" address = "{collector.url}" }}\n'
        "}\n"
    )
    files = plugin_configuration(
        config, before=SPY_BEFORE, extra={"spy.py": SPY, "spy.json": json.dumps(spy)}
    )
    try:
        run_id = atlas.push("acme/spy", files)
        inside = collector.wait_for("environment")
        api = collector.wait_for("api")
        reached = collector.wait_for("network")
        collector.wait_for("ready")
        status, body = atlas.api("DELETE", "/organizations/acme/members/alice", "admin")
        assert status in (200, 204), body
        after = collector.wait_for("after-removal")
        atlas.wait(run_id)
        try:
            listener.accept()
            accepted = True
        except OSError:
            accepted = False
    finally:
        listener.close()
        atlas.api(
            "POST",
            "/organizations/acme/members",
            "admin",
            {"membership": {"username": "alice", "level": "write"}},
        )

    # Inside, the token is a placeholder; the relay holds the real one.
    assert inside["ATLAS_TOKEN"] == PLACEHOLDER_TOKEN
    assert inside["ATLAS_ADDRESS"].startswith("http://127.0.0.1:")
    assert collector.requests  # the remote state pointed elsewhere was read
    for path, headers in collector.requests:
        assert path == f"/api/v1/terraform/state/acme/anything?atlas_run_id={run_id}"
        assert headers["X-Atlas-Token"] == PLACEHOLDER_TOKEN
    # The token may read the states its queuer reads, and its own: nothing else.
    assert api == {
        "GET /api/v1/tokens": 404,
        "POST /api/v1/tokens": 404,
        "GET /api/v1/user": 404,
        "POST /api/v1/organizations": 404,
        "PUT /api/v1/environments/acme/spy/variables": 404,
        "POST /api/v1/terraform/configurations/acme/spy/versions": 404,
        "POST /api/v1/environments/acme/control/plan": 404,
        "GET /api/v1/terraform/state/hidden/secret": 404,
        "GET /api/v1/terraform/state/acme/control": 200,
        "GET /api/v1/terraform/state/acme/spy": 200,
    }
    status, tokens_left = atlas.api("GET", "/tokens", "alice")
    assert status == 200
    assert "forever" not in [t["description"] for t in tokens_left["tokens"]]
    # Its own state, readable above, is not once the queuer is removed.
    assert after[-1] == 404
    # No loopback service of the worker, not even this server's own port;
    # the outside world, yes.
    assert reached == {
        "worker loopback": "ConnectionRefusedError",
        "server port on the loopback": "ConnectionRefusedError",
        "outside world": "connected",
    }
    assert not accepted
