"""The files and process environment of one phase of a run.

Per phase a fresh directory holds:

    <dir>/config/                   the configuration version's archive, and
    <dir>/config/zzz_atlas_override.tf   the `atlas` backend of this server and
                                    this environment (overrides any backend)
    <dir>/atlas.tfvars              the environment's Terraform variables
    <dir>/home/                     HOME for Terraform
    <dir>/plan.tfplan               the plan file (written by plan, read by apply)

Terraform gets no environment of the worker's own: only PATH, HOME,
CHECKPOINT_DISABLE, the environment's process variables and the ATLAS_*
variables Atlas gave its runs.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from environments.archives import extract_archive
from environments.models import Variable

from .conf import run_address
from .sandbox import PATH

OVERRIDE_NAME = "zzz_atlas_override.tf"
RESERVED = ("ATLAS_", "CHECKPOINT_DISABLE", "HOME")


def hcl_string(value):
    """A quoted HCL string whose value is exactly `value` (JSON's escapes
    are HCL's; Terraform does not interpolate variable files)."""
    return json.dumps(value, ensure_ascii=False)


def _usable_env(key, value):
    """Process variables that cannot override ours or break the process."""
    return (
        bool(key)
        and not key.startswith(RESERVED)
        and "=" not in key
        and "\0" not in key
        and "\0" not in value
    )


def override_file(environment, address):
    return (
        "# Written by Atlas for this run: state lives on the Atlas server.\n"
        "terraform {\n"
        '  backend "atlas" {\n'
        f"    name    = {hcl_string(environment.slug)}\n"
        f"    address = {hcl_string(address)}\n"
        "  }\n"
        "}\n"
    )


def variables_file(variables):
    """The Terraform variables as an HCL variable file: strings quoted and
    escaped, HCL values (maps, lists) written as they are."""
    lines = []
    for variable in variables:
        value = variable.value if variable.hcl else hcl_string(variable.value)
        lines.append(f"{hcl_string(variable.key)} = {value}")
    return "\n".join(lines) + "\n"


@dataclass
class Workspace:
    """A prepared phase directory and what Terraform needs to run in it."""

    root: Path
    config: Path
    env: dict = field(default_factory=dict)
    secrets: list = field(default_factory=list)

    @property
    def var_file(self):
        return self.root / "atlas.tfvars"

    @property
    def plan_file(self):
        return self.root / "plan.tfplan"


def prepare(run, root, token_text):
    """Lay out `root` (an empty directory) for a phase of `run`."""
    environment = run.environment
    root = Path(root)
    config = root / "config"
    home = root / "home"
    for directory in (config, home):
        directory.mkdir(mode=0o700)
    extract_archive(run.configuration_version, str(config))
    address = run_address()
    (config / OVERRIDE_NAME).write_text(override_file(environment, address))

    variables = list(Variable.objects.filter(environment=environment).order_by("key"))
    terraform_vars = [v for v in variables if v.category == Variable.Category.TERRAFORM]
    (root / "atlas.tfvars").write_text(variables_file(terraform_vars))
    os.chmod(root / "atlas.tfvars", 0o600)

    env = {}
    for variable in variables:
        if variable.category == Variable.Category.ENV and _usable_env(variable.key, variable.value):
            env[variable.key] = variable.value
    env.update(
        PATH=env.get("PATH", PATH),
        HOME=str(home),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        ATLAS_TOKEN=token_text,
        ATLAS_RUN_ID=str(run.pk),
        ATLAS_ADDRESS=address,
        ATLAS_CONFIGURATION_NAME=environment.name,
        ATLAS_CONFIGURATION_SLUG=environment.slug,
        ATLAS_CONFIGURATION_VERSION=str(run.configuration_version.number),
    )
    secrets = [v.value for v in variables if v.sensitive] + [token_text]
    return Workspace(root=root, config=config, env=env, secrets=secrets)
