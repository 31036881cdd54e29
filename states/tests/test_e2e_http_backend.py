"""Terraform 1.0.3 and 1.6.6 through the `http` backend against a live gunicorn,
in both lock styles: Terraform's LOCK/UNLOCK and GitLab's POST/DELETE `.../lock`.

A hanging `terraform_remote_state` read (from runs.tests.e2e.SlowServer)
keeps an apply busy while it holds the lock; killing it leaves the lock
behind as a crashed client would.
"""

import json
import time

import pytest

from accounts.models import Level
from accounts.tests.factories import UserFactory, member, token_for
from atlas.testing.terraform import NETWORK_1X, Terraform
from environments.models import Environment, LockKind
from runs.tests.e2e import SlowServer
from states.models import Door, StateVersion

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STYLES = {
    "terraform": "",
    "gitlab": """
    lock_address   = "{address}/lock"
    lock_method    = "POST"
    unlock_address = "{address}/lock"
    unlock_method  = "DELETE"
""",
}
DEFAULT_LOCKS = """
    lock_address   = "{address}"
    unlock_address = "{address}"
"""

NETWORK = """
terraform {{
  backend "http" {{
    address = "{address}"
{locks}
  }}
}}
""" + NETWORK_1X.replace("{", "{{").replace("}", "}}")

APP = """
data "terraform_remote_state" "network" {{
  backend = "http"
  config = {{
    address  = "{address}"
    username = "reader"
    password = "{token}"
  }}
}}

output "network_cidr" {{ value = data.terraform_remote_state.network.outputs.vpc_cidr }}
"""


@pytest.fixture
def live(live_http):
    return live_http


def address(live, name="network"):
    return f"{live.url}/api/v1/terraform/state/acme/{name}"


def client(tmp_path, version, live, username, token, style="terraform", name="network"):
    url = address(live, name)
    locks = (STYLES[style] or DEFAULT_LOCKS).format(address=url)
    return Terraform(
        tmp_path / f"{name}-{version}-{username}",
        version,
        NETWORK.format(address=url, locks=locks),
        env={"TF_HTTP_USERNAME": username, "TF_HTTP_PASSWORD": token},
    )


def serials(name="network"):
    return list(
        StateVersion.objects.filter(environment__name=name)
        .order_by("serial")
        .values_list("serial", flat=True)
    )


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.parametrize("style", ["terraform", "gitlab"])
@pytest.mark.parametrize("version", ["1.0.3", "1.6.6"])
def test_apply_locks_conflicts_and_a_crashed_client_s_lock_is_broken_by_an_admin(
    live, personas, tmp_path, version, style
):
    second = UserFactory(username="second")
    member(personas.org, second, Level.WRITE)
    writer = client(tmp_path, version, live, "writer", personas.writer.token, style)
    writer.init()
    writer.apply()
    writer.apply("-var", "cidr=10.1.0.0/16")
    first, then = serials()
    assert then > first
    version_row = StateVersion.objects.get(serial=then)
    assert (version_row.door, version_row.terraform_version) == (Door.HTTP, version)
    assert version_row.created_by == personas.writer.user
    assert not Environment.objects.get(name="network").locked

    with SlowServer() as slow:
        busy = writer.popen("apply", "-auto-approve", "-no-color", "-var", f"slow={slow.url}")
        assert slow.requests.wait(60), "the apply never reached its data source"
        environment = Environment.objects.get(name="network")
        assert (environment.locked, environment.lock_kind) == (True, LockKind.HTTP)
        assert environment.locked_by == personas.writer.user
        assert environment.lock_operation == "OperationTypeApply"
        assert environment.lock_client == f"Terraform {version}"
        lock_id = environment.lock_id

        other = client(tmp_path, version, live, "second", token_for(second), style)
        other.init()
        refused = other.apply("-lock-timeout=0s", check=False)
        assert refused.returncode == 1
        output = refused.stdout + refused.stderr
        assert "Error acquiring the state lock" in output
        # The ID comes from the holder's LockInfo that the 409 carried.
        assert f"ID={lock_id}" in output.replace("\n", "")

        writer.kill(busy)  # a crashed client: its lock stays
    assert Environment.objects.get(name="network").lock_id == lock_id

    forced = other("force-unlock", "-force", lock_id, check=False)
    assert forced.returncode == 1
    assert "403" in forced.stdout + forced.stderr
    assert Environment.objects.get(name="network").locked

    admin = client(tmp_path, version, live, "admin", personas.admin.token, style)
    admin.init()
    admin("force-unlock", "-force", lock_id)
    assert not Environment.objects.get(name="network").locked
    other.apply("-var", "cidr=10.2.0.0/16")
    assert serials()[-1] > then


@pytest.mark.parametrize("version", ["1.0.3", "1.6.6"])
def test_remote_state_reads_another_environment_through_the_http_backend(
    live, personas, tmp_path, version
):
    writer = client(tmp_path, version, live, "writer", personas.writer.token)
    writer.init()
    writer.apply("-var", "cidr=172.16.0.0/12")
    app = Terraform(
        tmp_path / f"app-{version}",
        version,
        APP.format(address=address(live), token=personas.reader.token),
    )
    app.init()
    result = app.apply()
    assert "network_cidr = " in result.stdout
    assert "172.16.0.0/12" in result.stdout
    pulled = json.loads(writer("state", "pull").stdout)
    assert pulled["outputs"]["vpc_cidr"]["value"] == "172.16.0.0/12"
    assert pulled["outputs"]["db_password"]["sensitive"] is True
