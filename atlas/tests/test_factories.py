"""Every model of the project has a factory that needs nothing set up first.

A test builds what it needs with `XFactory()`; nothing hides behind a
factory (no organization that must exist already, no fixture to request).
"""

import factory
import pytest
from django.apps import apps

from accounts.tests import factories as accounts_factories
from environments.tests import factories as environments_factories
from runs.tests import factories as runs_factories
from states.tests import factories as states_factories

PROJECT_APPS = ("accounts", "environments", "states", "runs")
MODULES = (accounts_factories, environments_factories, states_factories, runs_factories)


def factories():
    found = {}
    for module in MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, factory.django.DjangoModelFactory)
                and value._meta.model is not None
            ):
                found[value._meta.model] = value
    return found


def project_models():
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS and not model._meta.proxy
    ]


def test_every_model_has_a_factory():
    missing = [model._meta.label for model in project_models() if model not in factories()]
    assert missing == []


@pytest.mark.parametrize(
    "model", project_models(), ids=lambda model: model._meta.label.replace(".", "-")
)
def test_a_factory_builds_its_model_in_an_empty_database(db, model):
    made = factories()[model]()
    assert isinstance(made, model)
    assert model._base_manager.filter(pk=made.pk).exists()
