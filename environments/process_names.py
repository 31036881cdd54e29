"""Process variable names a run never takes from an environment's variables.

An environment's `env` variables become the process environment of
Terraform inside the run's sandbox. A few names change which code the
programs of a run load or find, rather than passing them a value: the
dynamic loader's `LD_PRELOAD`, a `PATH` that decides which `git` Terraform
starts while it fetches modules, a CLI configuration that points Terraform
at other plugins. Those are refused when a variable is saved, and a stored
one is not applied to runs (the run's log says so). The list follows what
Terraform 0.11 to 1.x and the helpers it starts (the C library's loader,
shells, git and ssh, interpreters run by provisioners and external data
sources) read; docs/operations.md explains it.

Names the run itself sets (`ATLAS_*`, `HOME`, ...) are refused too: a
variable could never change them.
"""

# (names, why): a name ending in "*" stands for every name with that prefix.
REFUSED = (
    (
        (
            "LD_*",
            "GLIBC_TUNABLES",
            "GCONV_PATH",
            "GETCONF_DIR",
            "LOCPATH",
            "NLSPATH",
        ),
        "changes which libraries the dynamic loader and the C library load",
    ),
    (
        ("PATH", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "CDPATH"),
        "changes which programs run and what shells execute before their script",
    ),
    (
        (
            "PYTHON*",
            "PERL5LIB",
            "PERLLIB",
            "PERL5OPT",
            "PERL5DB",
            "RUBYLIB",
            "RUBYOPT",
            "NODE_OPTIONS",
            "NODE_PATH",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
        ),
        "changes which code an interpreter loads",
    ),
    (
        (
            "TF_CLI_CONFIG_FILE",
            "TERRAFORM_CONFIG",
            "TF_PLUGIN_*",
            "TF_CLI_ARGS*",
            "TF_DATA_DIR",
            "TF_REATTACH_PROVIDERS",
            "TF_SKIP_PROVIDER_VERIFY",
            "TF_DISABLE_PLUGIN_TLS",
        ),
        "changes which plugins, configuration or arguments Terraform uses",
    ),
    (
        ("GIT_*", "XDG_CONFIG_HOME", "SSH_ASKPASS", "HGRCPATH"),
        "changes which programs git and the other module fetchers start",
    ),
    (
        ("ATLAS_*", "HOME", "CHECKPOINT_DISABLE", "TF_IN_AUTOMATION"),
        "is set by Atlas for every run",
    ),
)


def _matches(key, name):
    return key.startswith(name[:-1]) if name.endswith("*") else key == name


def refused_reason(key):
    """Why a process variable named `key` is not passed to runs, or None.

    Names are compared as written: process environments are case-sensitive,
    and the loader, shells and Terraform read these names in capitals only.
    """
    for names, reason in REFUSED:
        if any(_matches(key, name) for name in names):
            return reason
    return None


def refused_names():
    """Every refused name, for documentation and error messages."""
    return [name for names, _reason in REFUSED for name in names]
