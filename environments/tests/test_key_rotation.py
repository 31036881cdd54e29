"""`manage.py rotate_keys` covers variable values sealed in the database."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from environments import crypto
from environments.models import Variable
from environments.tests.factories import EnvironmentFactory, VariableFactory

pytestmark = pytest.mark.django_db


def test_rotation_reseals_variables_and_guards_the_old_key(personas):
    from atlas.keys import key_ring

    environment = EnvironmentFactory(namespace=personas.org.namespace)
    VariableFactory(environment=environment, key="password", value="hunter2")
    old = key_ring().current
    call_command("rotate_keys")
    new = key_ring().current
    assert new != old
    variable = Variable.objects.get(key="password")
    assert variable.value_key_id == new
    assert crypto.open_variable(variable) == "hunter2"
    Variable.objects.filter(pk=variable.pk).update(value_key_id=old)
    with pytest.raises(CommandError, match="sealed values still use"):
        call_command("rotate_keys", "--retire", old)
    assert old in key_ring().keys
