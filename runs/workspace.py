"""The files and process environment of one phase of a run.

Per phase a fresh directory (0700, see runs.workdirs) holds:

    <dir>/sandbox/                  the only directory the sandbox sees, and
                                    may write (bound at the same path):
    <dir>/sandbox/config/           the configuration version's archive, and
    <dir>/sandbox/config/zzz_atlas_override.tf   the `atlas` backend of this
                                    environment (overrides any backend)
    <dir>/sandbox/atlas.tfvars      the environment's Terraform variables
    <dir>/sandbox/home/             HOME for Terraform
    <dir>/sandbox/out/plan.tfplan   where plan writes the plan (apply reads it)
    <dir>/plan.tfplan               the worker's own copy of a plan, checked
                                    (runs.planfile) before it is stored
    <dir>/resolv.conf, pasta.*      the run's network (runs.network)

Everything under `sandbox/` is written by the worker before Terraform starts
and never trusted after. Terraform gets no environment of the worker's own:
only PATH, HOME, CHECKPOINT_DISABLE, TF_IN_AUTOMATION, the environment's
process variables (minus the names `environments.process_names` refuses) and
the ATLAS_* variables Atlas gave its runs. `ATLAS_TOKEN` is a placeholder:
the run token stays with the worker's relay (runs.relay).
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from environments.archives import extract_archive
from environments.models import Variable
from environments.process_names import refused_reason

from . import variables as run_variables
from . import versions
from .relay import PLACEHOLDER_TOKEN

OVERRIDE_NAME = "zzz_atlas_override.tf"
PATH = "/usr/local/bin:/usr/bin:/bin"
PLAN_NAME = "plan.tfplan"


def hcl_string(value):
    """A quoted HCL string whose value is exactly `value` (JSON's escapes
    are HCL's; Terraform does not interpolate variable files)."""
    return json.dumps(value, ensure_ascii=False)


def override_file(environment):
    """The backend of the run: this environment on this server. The address
    comes from ATLAS_ADDRESS at each phase, so a saved plan does not carry
    the plan phase's relay into the apply."""
    return (
        "# Written by Atlas for this run: state lives on the Atlas server.\n"
        "terraform {\n"
        '  backend "atlas" {\n'
        f"    name = {hcl_string(environment.slug)}\n"
        "  }\n"
        "}\n"
    )


def http_override_file():
    """The backend of a run of Terraform 1.x, which has no `atlas` backend:
    the `http` backend on this environment's state URL. It replaces a
    `cloud {}` or `backend "remote"` block of the configuration; its address
    comes from TF_HTTP_ADDRESS at each phase (the relay's port changes), and
    it takes no lock: the run holds the environment's."""
    return (
        "# Written by Atlas for this run: state lives on the Atlas server.\n"
        "terraform {\n"
        '  backend "http" {}\n'
        "}\n"
    )


def state_address(relay_address, environment):
    return f"{relay_address}/api/v1/terraform/state/{environment.slug}"


def variables_file(variables, quoted_keys=True):
    """The Terraform variables as an HCL variable file: strings quoted and
    escaped, HCL values (maps, lists) written as they are. `variables` are
    Variable rows or `{"key", "value", "hcl"}` dicts; a later one of the
    same key wins (a run's own variables come after the environment's).
    Terraform 0.x reads quoted names; 1.x refuses them (names are
    identifiers: `environments.services.variables.key_errors`)."""
    lines = {}
    for variable in variables:
        if isinstance(variable, dict):
            key, raw, hcl = variable["key"], variable["value"], variable["hcl"]
        else:
            key, raw, hcl = variable.key, variable.value, variable.hcl
        value = raw if hcl else hcl_string(raw)
        lines[key] = f"{hcl_string(key) if quoted_keys else key} = {value}"
    return "\n".join(lines.values()) + "\n"


@dataclass
class Workspace:
    """A prepared phase directory and what Terraform needs to run in it."""

    root: Path
    env: dict = field(default_factory=dict)
    # The Terraform executable of the run's version (runs.versions).
    terraform: str = ""
    secrets: list = field(default_factory=list)
    # Lines for the run's log: the variables this phase leaves out, and why.
    notes: list = field(default_factory=list)

    @property
    def sandbox(self):
        return self.root / "sandbox"

    @property
    def config(self):
        return self.sandbox / "config"

    @property
    def var_file(self):
        return self.sandbox / "atlas.tfvars"

    @property
    def plan_dir(self):
        return self.sandbox / "out"

    @property
    def plan_file(self):
        return self.plan_dir / PLAN_NAME

    @property
    def plan_relative(self):
        return f"out/{PLAN_NAME}"

    @property
    def checked_plan(self):
        return self.root / PLAN_NAME


def process_variables(variables):
    """(the `env` variables a run gets, lines for the log about the others)."""
    env, notes = {}, []
    for variable in variables:
        if variable.category != Variable.Category.ENV:
            continue
        reason = refused_reason(variable.key)
        if reason:
            notes.append(
                f"The environment variable {variable.key} is not applied: it {reason}. "
                "Delete it from the environment's variables."
            )
            continue
        value = variable.value
        if "\0" in value or "=" in variable.key or not variable.key:
            notes.append(f"The environment variable {variable.key} is not applied: unusable value.")
            continue
        env[variable.key] = value
    return env, notes


def prepare(run, root, address):
    """Lay out `root` (an empty directory) for a phase of `run`, whose
    Terraform reaches the server at `address` (the relay)."""
    environment = run.environment
    workspace = Workspace(root=Path(root))
    workspace.sandbox.mkdir(mode=0o700)
    for directory in (workspace.config, workspace.sandbox / "home", workspace.plan_dir):
        directory.mkdir(mode=0o700)
    extract_archive(run.configuration_version, str(workspace.config))
    atlas_backend = versions.uses_atlas_backend(run.terraform_version)
    (workspace.config / OVERRIDE_NAME).write_text(
        override_file(environment) if atlas_backend else http_override_file()
    )
    workspace.terraform = versions.binary(run.terraform_version)

    variables = list(Variable.objects.filter(environment=environment).order_by("key"))
    terraform_vars = [v for v in variables if v.category == Variable.Category.TERRAFORM]
    sent = run_variables.load(run)
    workspace.var_file.write_text(variables_file([*terraform_vars, *sent], atlas_backend))
    os.chmod(workspace.var_file, 0o600)

    env, workspace.notes = process_variables(variables)
    env.update(
        PATH=PATH,
        HOME=str(workspace.sandbox / "home"),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        ATLAS_TOKEN=PLACEHOLDER_TOKEN,
        ATLAS_RUN_ID=str(run.pk),
        ATLAS_ADDRESS=address,
        ATLAS_CONFIGURATION_NAME=environment.name,
        ATLAS_CONFIGURATION_SLUG=environment.slug,
        ATLAS_CONFIGURATION_VERSION=str(run.configuration_version.number),
    )
    if not atlas_backend:
        env["TF_HTTP_ADDRESS"] = state_address(address, environment)
    workspace.env = env
    # A run's own variables carry no sensitivity of their own: Terraform
    # masks those its configuration declares sensitive.
    workspace.secrets = [v.value for v in variables if v.sensitive]
    return workspace
