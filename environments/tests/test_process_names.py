"""Process variable names that change how a run's programs load or find
code are refused wherever a variable is named, and flagged where one is
already stored."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from environments.models import Variable
from environments.process_names import refused_names, refused_reason
from environments.services import save_variable
from environments.services.variables import key_errors
from environments.tests.factories import EnvironmentFactory, VariableFactory, stored_variable

pytestmark = pytest.mark.django_db

PAGE = "/environments/acme/app"


@pytest.mark.parametrize(
    "key",
    [
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "GLIBC_TUNABLES",
        "GCONV_PATH",
        "PATH",
        "BASH_ENV",
        "ENV",
        "SHELLOPTS",
        "PS4",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PERL5OPT",
        "NODE_OPTIONS",
        "TF_CLI_CONFIG_FILE",
        "TERRAFORM_CONFIG",
        "TF_PLUGIN_CACHE_DIR",
        "TF_CLI_ARGS",
        "TF_CLI_ARGS_plan",
        "TF_DATA_DIR",
        "TF_REATTACH_PROVIDERS",
        "GIT_SSH_COMMAND",
        "GIT_CONFIG_GLOBAL",
        "XDG_CONFIG_HOME",
        "ATLAS_TOKEN",
        "ATLAS_ADDRESS",
        "HOME",
        "CHECKPOINT_DISABLE",
    ],
)
def test_names_that_change_which_code_runs_are_refused_as_environment_variables(key):
    (message,) = key_errors(key, Variable.Category.ENV)
    assert message.startswith("cannot be an environment variable of runs: it ")
    assert refused_reason(key) in message


@pytest.mark.parametrize(
    "key",
    [
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "TF_VAR_region",
        "TF_LOG",
        "HTTPS_PROXY",
        "NO_PROXY",
        "SSL_CERT_FILE",
        "TMPDIR",
        "LANG",
        "MY_PATH",
        "ld_preload",
        "PATHS",
        "GITHUB_TOKEN",
    ],
)
def test_ordinary_environment_variables_are_accepted(key):
    assert key_errors(key, Variable.Category.ENV) == []


@pytest.mark.parametrize("key", ["LD_PRELOAD", "PATH", "ATLAS_TOKEN"])
def test_terraform_variables_may_take_any_identifier_they_never_reach_a_process(key):
    assert key_errors(key, Variable.Category.TERRAFORM) == []


def test_every_refused_name_is_documented_in_the_operations_guide(settings):
    guide = (settings.BASE_DIR / "docs" / "operations.md").read_text()
    for name in refused_names():
        assert f"`{name}`" in guide, name


def test_saving_a_refused_name_names_the_key_and_stores_nothing(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    with pytest.raises(ValidationError) as raised:
        save_variable(
            environment,
            personas.writer.user,
            key="LD_PRELOAD",
            category="env",
            value="./evil.so",
            hcl=False,
            sensitive=False,
        )
    assert list(raised.value.message_dict) == ["key"]
    assert "dynamic loader" in raised.value.message_dict["key"][0]
    assert not Variable.objects.exists()


def test_the_web_form_shows_why_a_name_is_refused(personas):
    EnvironmentFactory(namespace=personas.org.namespace, name="app")
    client = Client()
    client.force_login(personas.writer.user)
    response = client.post(
        f"{PAGE}/variables/new",
        {"category": "env", "key": "PATH", "value": "bin:/usr/bin"},
    )
    assert response.status_code == 200
    assert "cannot be an environment variable of runs" in response.content.decode()
    assert not Variable.objects.exists()


def test_a_stored_refused_variable_is_flagged_as_not_applied(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    stored_variable(environment, "LD_PRELOAD", "x.so")
    VariableFactory(environment=environment, category="env", key="AWS_REGION", value="eu")
    client = Client()
    client.force_login(personas.reader.user)
    page = client.get(f"{PAGE}/variables").content.decode()
    assert page.count("not applied to runs") == 1
    assert "changes which libraries the dynamic loader" in page
    assert "convenience, not a boundary" in page
