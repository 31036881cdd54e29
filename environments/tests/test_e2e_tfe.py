"""Terraform 1.0.3 (`backend "remote"`) and 1.6.6 (`cloud {}`) against a live
gunicorn over HTTPS with a test CA: discovery, workspaces created on first
use, apply, outputs (sensitive too), state pull, the workspace lock, a
crashed client's lock broken by an admin, and `terraform workspace list`."""

import base64
import hashlib
import json

import pytest

from accounts.models import Level, Organization
from accounts.tests.factories import UserFactory, member, token_for
from atlas.testing.gunicorn import https_session
from atlas.testing.terraform import NETWORK_1X, Terraform
from environments.models import Environment, LockKind
from runs.tests.e2e import SlowServer
from states.models import Door, StateUpload, StateVersion

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BLOCKS = {
    "1.0.3": """
  backend "remote" {{
    hostname     = "{host}"
    organization = "acme"
    workspaces {{ {workspaces} }}
  }}""",
    "1.6.6": """
  cloud {{
    hostname     = "{host}"
    organization = "acme"
    workspaces {{ {workspaces} }}
  }}""",
}

NETWORK = """
terraform {{{block}
}}
""" + NETWORK_1X.replace("{", "{{").replace("}", "}}")


@pytest.fixture
def live(live_https):
    return live_https


@pytest.fixture(autouse=True)
def local_execution(live, personas):
    """These workspaces keep their state here and run Terraform where it is started."""
    Organization.objects.filter(pk=personas.org.pk).update(default_execution_mode="local")


def host(live):
    return live.host.replace("127.0.0.1", "localhost")


def credentials(live, token):
    return f'credentials "{host(live)}" {{\n  token = "{token}"\n}}\n'


def client(tmp_path, version, live, token, label, workspaces='name = "network"'):
    block = BLOCKS[version].format(host=host(live), workspaces=workspaces)
    return Terraform(
        tmp_path / f"{label}-{version}",
        version,
        NETWORK.format(block=block),
        ca=live.ca,
        cli_config=credentials(live, token),
    )


def versions(name="network"):
    return list(StateVersion.objects.filter(environment__name=name).order_by("serial"))


@pytest.mark.parametrize("version", ["1.0.3", "1.6.6"])
def test_init_apply_outputs_lock_and_force_unlock_through_tfe_v2(live, personas, tmp_path, version):
    second = UserFactory(username="second")
    member(personas.org, second, Level.WRITE)
    writer = client(tmp_path, version, live, personas.writer.token, "writer")
    writer.init()
    environment = Environment.objects.get(namespace__name="acme", name="network")
    assert environment.created_by == personas.writer.user

    writer.apply()
    writer.apply("-var", "cidr=10.1.0.0/16")
    stored = versions()
    assert [v.serial for v in stored] == sorted({v.serial for v in stored})
    assert len(stored) == 2
    assert {(v.door, v.terraform_version) for v in stored} == {(Door.TFE, version)}
    uploaded = StateUpload.objects.filter(version__in=stored).count()
    # 1.6.6 uploads through the single-use URLs (never the inline fallback); 1.0.3 inline.
    assert uploaded == (2 if version == "1.6.6" else 0)
    assert not Environment.objects.get(pk=environment.pk).locked

    outputs = json.loads(writer("output", "-json").stdout)
    assert outputs["vpc_cidr"]["value"] == "10.1.0.0/16"
    assert outputs["db_password"] == {"sensitive": True, "type": "string", "value": "hunter2"}
    assert "hunter2" not in writer("output", "-no-color").stdout
    pulled = json.loads(writer("state", "pull").stdout)
    assert pulled["serial"] == stored[-1].serial
    assert pulled["outputs"]["vpc_cidr"]["value"] == "10.1.0.0/16"
    assert writer("state", "list").returncode == 0

    other = client(tmp_path, version, live, token_for(second), "second")
    other.init()
    with SlowServer() as slow:
        busy = writer.popen("apply", "-auto-approve", "-no-color", "-var", f"slow={slow.url}")
        assert slow.requests.wait(60), "the apply never reached its data source"
        environment.refresh_from_db()
        assert (environment.locked, environment.lock_kind) == (True, LockKind.TFE)
        assert environment.locked_by == personas.writer.user
        assert environment.lock_client == f"Terraform {version}"
        refused = other.apply("-lock-timeout=0s", check=False)
        assert refused.returncode == 1
        assert "workspace already locked" in refused.stdout + refused.stderr
        writer.kill(busy)  # a crashed client: the workspace stays locked
    assert Environment.objects.get(pk=environment.pk).locked

    forced = other("force-unlock", "-force", "acme/network", check=False)
    assert forced.returncode == 1
    assert Environment.objects.get(pk=environment.pk).locked
    admin = client(tmp_path, version, live, personas.admin.token, "admin")
    admin.init()
    admin("force-unlock", "-force", "acme/network")
    assert not Environment.objects.get(pk=environment.pk).locked
    other.apply("-var", "cidr=10.2.0.0/16")
    assert versions()[-1].created_by == second


def test_workspace_list_pages_through_the_organization_s_workspaces(live, personas, tmp_path):
    """1.0.3's `prefix` lists through `search[name]` and every page."""
    from environments import services

    for index in range(23):
        services.new_environment(personas.org.namespace, f"net-{index:02d}")
    services.new_environment(personas.org.namespace, "other")
    terraform = client(
        tmp_path, "1.0.3", live, personas.reader.token, "list", workspaces='prefix = "net-"'
    )
    terraform.env["TF_WORKSPACE"] = "00"
    terraform.init()
    listed = terraform("workspace", "list", "-no-color").stdout.splitlines()
    names = [line.strip(" *") for line in listed if line.strip(" *").isdigit()]
    assert names == [f"{i:02d}" for i in range(23)]


def test_cloud_workspace_list_names_the_configured_workspace(live, personas, tmp_path):
    terraform = client(tmp_path, "1.6.6", live, personas.writer.token, "cloud-list")
    terraform.init()
    assert "network" in terraform("workspace", "list", "-no-color").stdout


ATLAS_0_11 = """
terraform {{
  backend "atlas" {{
    name    = "acme/upgrade"
    address = "{url}"
  }}
}}

variable "cidr" {{ default = "10.0.0.0/16" }}

output "vpc_cidr" {{ value = "${{var.cidr}}" }}
"""

HTTP_1X = """
terraform {{
  backend "http" {{
    address        = "{url}/api/v1/terraform/state/acme/upgrade"
    lock_address   = "{url}/api/v1/terraform/state/acme/upgrade"
    unlock_address = "{url}/api/v1/terraform/state/acme/upgrade"
    username       = "writer"
  }}
}}

variable "cidr" {{ default = "10.0.0.0/16" }}

output "vpc_cidr" {{ value = var.cidr }}
"""


def test_the_upgrade_path_from_0_11_atlas_to_1_6_6_http_and_cloud_keeps_one_history(
    live, personas, tmp_path
):
    url = f"https://{host(live)}"
    old = Terraform(
        tmp_path / "old",
        "0.11.11",
        ATLAS_0_11.format(url=url),
        ca=live.ca,
        env={"ATLAS_TOKEN": personas.writer.token},
    )
    old.init()
    old.apply()
    old.apply("-var", "cidr=10.1.0.0/16")
    (tmp_path / "old.tfstate").write_text(old("state", "pull").stdout)

    http = Terraform(
        tmp_path / "http",
        "1.6.6",
        HTTP_1X.format(url=url),
        ca=live.ca,
        env={"TF_HTTP_PASSWORD": personas.writer.token},
    )
    http.init()
    assert json.loads(http("state", "pull").stdout)["serial"] == versions("upgrade")[-1].serial
    http.apply("-var", "cidr=10.2.0.0/16")

    block = BLOCKS["1.6.6"].format(host=host(live), workspaces='name = "upgrade"')
    cloud = Terraform(
        tmp_path / "cloud",
        "1.6.6",
        NETWORK.format(block=block),
        ca=live.ca,
        cli_config=credentials(live, personas.writer.token),
    )
    cloud.init()
    assert "10.2.0.0/16" in cloud("output", "-raw", "vpc_cidr").stdout
    cloud.apply("-var", "cidr=10.3.0.0/16")

    history = versions("upgrade")
    assert [v.serial for v in history] == list(range(history[0].serial, history[0].serial + 4))
    assert len({v.lineage for v in history}) == 1
    assert [(v.door, v.terraform_version) for v in history] == [
        (Door.ATLAS, "0.11.11"),
        (Door.ATLAS, "0.11.11"),
        (Door.HTTP, "1.6.6"),
        (Door.TFE, "1.6.6"),
    ]

    # Terraform 0.11 itself stops before writing: it cannot read the 1.x state.
    refused = old("state", "push", "-force", str(tmp_path / "old.tfstate"), check=False)
    assert refused.returncode == 1
    assert "does not support state version 4" in refused.stdout + refused.stderr
    # What its atlas backend would send for the older state is refused with a clear 409.
    body = (tmp_path / "old.tfstate").read_bytes()
    answer = https_session(live).put(
        f"{url}/api/v1/terraform/state/acme/upgrade",
        data=body,
        headers={
            "X-Atlas-Token": personas.writer.token,
            "Content-Type": "application/json",
            "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
        },
        timeout=30,
    )
    assert answer.status_code == 409
    message = answer.json()["errors"]["base"][0]
    assert f"lower than the stored serial {history[-1].serial}" in message
    assert versions("upgrade") == history
