"""Terraform 0.11.11 itself against a live server: its `atlas` backend and
`terraform_remote_state`, conflicts and its own equal-state retry.

The configurations have outputs only, so no provider is downloaded.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from states import services
from states.models import EnvironmentState, StateVersion
from states.parsing import parse_state

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TERRAFORM = str(Path(sys.executable).parent / "terraform")
if not Path(TERRAFORM).exists():
    TERRAFORM = shutil.which("terraform") or TERRAFORM

NETWORK = """
terraform {{
  backend "atlas" {{
    name    = "acme/network"
    address = "{address}"
  }}
}}

variable "cidr" {{ default = "10.0.0.0/16" }}

output "vpc_cidr" {{ value = "${{var.cidr}}" }}

output "db_password" {{
  value     = "hunter2"
  sensitive = true
}}
"""

APP = """
terraform {{
  backend "atlas" {{
    name    = "acme/app"
    address = "{address}"
  }}
}}

data "terraform_remote_state" "network" {{
  backend = "atlas"
  config {{
    name    = "acme/network"
    address = "{address}"
  }}
}}

output "network_cidr" {{ value = "${{data.terraform_remote_state.network.vpc_cidr}}" }}
"""


class Terraform:
    """One working directory with one configuration, run as a person would."""

    def __init__(self, directory, config, token, run_id=""):
        self.directory = directory
        self.token = token
        self.run_id = run_id
        directory.mkdir()
        (directory / "main.tf").write_text(config)

    def __call__(self, *args, check=True):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.directory),
            "CHECKPOINT_DISABLE": "1",
            "TF_INPUT": "0",
            "ATLAS_TOKEN": self.token,
            "ATLAS_RUN_ID": self.run_id,
            # TF_LOG=TRACE TF_LOG_PATH=/tmp/tf.log shows Terraform's side of a failure.
            "TF_LOG": os.environ.get("TF_LOG", ""),
            "TF_LOG_PATH": os.environ.get("TF_LOG_PATH", ""),
        }
        result = subprocess.run(
            [TERRAFORM, *args],
            cwd=self.directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
        return result

    def init(self):
        return self("init", "-input=false", "-no-color")

    def apply(self, *args, check=True):
        return self("apply", "-auto-approve", "-input=false", "-no-color", *args, check=check)


@pytest.fixture
def network(live_server, personas, tmp_path):
    terraform = Terraform(
        tmp_path / "network", NETWORK.format(address=live_server.url), personas.writer.token
    )
    terraform.init()
    return terraform


def head(name="network"):
    return EnvironmentState.objects.select_related("head").get(environment__name=name).head


def stored_bytes(name="network"):
    return services.read_version(head(name))


def test_apply_stores_the_state_and_state_pull_reads_it_back(network):
    network.run_id = "run-e2e-1"
    result = network.apply()
    assert "vpc_cidr = 10.0.0.0/16" in result.stdout
    version = head()
    assert (version.serial, version.run_id, version.created_by.username) == (
        1,
        "run-e2e-1",
        "writer",
    )
    pulled = network("state", "pull").stdout.encode()
    assert pulled.strip() == stored_bytes().strip()
    document = json.loads(pulled)
    outputs = document["modules"][0]["outputs"]
    assert outputs["vpc_cidr"]["value"] == "10.0.0.0/16"
    assert outputs["db_password"]["sensitive"] is True


def test_a_second_apply_raises_the_serial(network):
    network.apply()
    network.apply("-var", "cidr=10.1.0.0/16")
    assert head().serial == 2
    assert json.loads(stored_bytes())["modules"][0]["outputs"]["vpc_cidr"]["value"] == "10.1.0.0/16"
    assert list(StateVersion.objects.order_by("serial").values_list("serial", flat=True)) == [1, 2]
    network.apply("-var", "cidr=10.1.0.0/16")  # nothing changed: nothing new is stored
    assert StateVersion.objects.count() == 2


def test_another_configuration_reads_its_outputs_through_remote_state(
    network, live_server, personas, tmp_path
):
    network.apply("-var", "cidr=172.16.0.0/12")
    app = Terraform(tmp_path / "app", APP.format(address=live_server.url), personas.reader.token)
    app.init()
    # The reader's token reads acme/network (plan refreshes the data source)...
    assert (
        "data.terraform_remote_state.network: Refreshing state" in app("plan", "-no-color").stdout
    )
    # ...but may not write acme/app: refused, nothing stored.
    refused = app.apply(check=False)
    assert refused.returncode == 1
    assert "403" in refused.stdout + refused.stderr
    assert not StateVersion.objects.filter(environment__name="app").exists()
    app.token = personas.writer.token
    assert "network_cidr = 172.16.0.0/12" in app.apply().stdout
    assert json.loads(stored_bytes("app"))["modules"][0]["outputs"]["network_cidr"]["value"] == (
        "172.16.0.0/12"
    )


def _racing(monkeypatch, competitor):
    """Make another write land just before Terraform's next one is decided."""
    original = services.write_state
    raced = []

    def write_state(environment, body, **kwargs):
        if not raced:
            raced.append(True)
            result = original(environment, competitor(bytes(body)))
            assert result.decision.stores, result.decision.reason
        return original(environment, body, **kwargs)

    monkeypatch.setattr(services, "write_state", write_state)
    return raced


def test_a_stale_writer_gets_the_conflict_and_nothing_is_overwritten(network, monkeypatch):
    network.apply()

    def other_content(body):  # same serial, other outputs: someone else applied first
        document = json.loads(body)
        document["modules"][0]["outputs"]["vpc_cidr"]["value"] = "192.168.0.0/16"
        return json.dumps(document, indent=4).encode()

    raced = _racing(monkeypatch, other_content)
    result = network.apply("-var", "cidr=10.9.0.0/16", check=False)
    assert raced
    assert result.returncode == 1
    assert "conflict" in (result.stdout + result.stderr).lower()
    assert json.loads(stored_bytes())["modules"][0]["outputs"]["vpc_cidr"]["value"] == (
        "192.168.0.0/16"
    )
    assert head().serial == 2


def test_terraform_s_equal_state_retry_succeeds(network, monkeypatch):
    """Same serial, same content, other bytes: Terraform retries once with serial + 1.

    The other bytes here come from another Terraform release (0.11.10) in
    Terraform's own layout: the case the client's retry was built for.
    """
    network.apply()

    def same_content_other_release(body):
        assert b'"terraform_version": "0.11.11"' in body
        return body.replace(b'"terraform_version": "0.11.11"', b'"terraform_version": "0.11.10"')

    raced = _racing(monkeypatch, same_content_other_release)
    network.apply("-var", "cidr=10.2.0.0/16")
    assert raced
    # 409 on serial 2, Terraform read the head, found it equal, retried as serial 3.
    assert [v.serial for v in StateVersion.objects.order_by("serial")] == [1, 2, 3]
    body = stored_bytes()
    assert parse_state(body).serial == 3
    assert json.loads(body)["modules"][0]["outputs"]["vpc_cidr"]["value"] == "10.2.0.0/16"
    assert json.loads(body)["terraform_version"] == "0.11.11"
    assert network("state", "pull").stdout.encode().strip() == body.strip()


def test_terraform_does_not_take_a_reordered_copy_for_an_equal_state(network, monkeypatch):
    """Same serial, same content, keys reordered: Terraform 0.11 bumps the serial
    of any state it reads that is not in its own layout ("state modified during
    read or write"), so its equality check fails and it reports the conflict.
    The server's part is the same 409; nothing is overwritten."""
    network.apply()

    def reordered(body):
        return json.dumps(json.loads(body), indent=1, sort_keys=True).encode()

    raced = _racing(monkeypatch, reordered)
    result = network.apply("-var", "cidr=10.3.0.0/16", check=False)
    assert raced
    assert result.returncode == 1
    assert "conflict" in (result.stdout + result.stderr).lower()
    assert json.loads(stored_bytes())["modules"][0]["outputs"]["vpc_cidr"]["value"] == "10.3.0.0/16"
    assert stored_bytes().startswith(b'{\n "lineage"')  # the competitor's bytes, untouched
    assert head().serial == 2


def test_after_an_admin_clears_the_state_terraform_reports_why_it_cannot_write(
    network, personas, live_server, tmp_path
):
    network.apply()
    network.apply("-var", "cidr=10.1.0.0/16")
    assert personas.admin.client.delete("/api/v1/terraform/state/acme/network").status_code == 200
    fresh = Terraform(
        tmp_path / "fresh", NETWORK.format(address=live_server.url), personas.writer.token
    )
    fresh.init()
    result = fresh.apply(check=False)
    assert result.returncode == 1  # an error, not Terraform's crash (exit code 2)
    assert "must be above 2" in result.stdout + result.stderr
    # A rollback restores a head, and Terraform carries on from it.
    assert (
        personas.admin.client.post(
            "/api/v1/terraform/state/acme/network/versions/2/rollback"
        ).status_code
        == 200
    )
    fresh.apply("-var", "cidr=10.1.0.0/16")
    assert head().serial == 3
