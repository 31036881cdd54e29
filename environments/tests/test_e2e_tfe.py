"""Terraform 1.0.3 (`backend "remote"`) and 1.6.6 (`cloud {}`) against a live
gunicorn over HTTPS with a test CA: discovery, workspaces created on first
use, apply, outputs (sensitive too), state pull, the workspace lock, a
crashed client's lock broken by an admin, and `terraform workspace list`."""

import json

import pytest

from accounts.models import Level
from accounts.tests.factories import UserFactory, member, token_for
from atlas.testing.gunicorn import live_server, make_ca
from atlas.testing.terraform import Terraform
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

variable "cidr" {{ default = "10.0.0.0/16" }}
variable "slow" {{ default = "" }}

data "terraform_remote_state" "slow" {{
  count   = var.slow == "" ? 0 : 1
  backend = "http"
  config  = {{ address = var.slow }}
}}

output "vpc_cidr" {{ value = var.cidr }}

output "db_password" {{
  value     = "hunter2"
  sensitive = true
}}
"""


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, tls):
    with live_server(tmp_path_factory.mktemp("tfe"), tls=tls) as live:
        yield live


@pytest.fixture
def live(server, settings, isolated_data):
    server.share_with_test_process(settings)
    return server


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
