"""Sealed values: bound to their row, readable after a key rotation, resealable."""

import pytest
from django.db import connection

from atlas.keys import key_ring, reset_key_ring, write_key_file
from environments import crypto
from environments.models import Variable
from environments.tests.factories import (
    ConfigurationVersionFactory,
    EnvironmentFactory,
    VariableFactory,
)

pytestmark = pytest.mark.django_db


def rotate(settings):
    write_key_file(settings.ATLAS_KEYS_FILE, key_ring().with_new_key())
    reset_key_ring()
    return key_ring().current


def test_a_value_copied_to_another_row_does_not_open(personas):
    first = VariableFactory(key="first", value="one")
    second = VariableFactory(environment=first.environment, key="second", value="two")
    Variable.objects.filter(pk=second.pk).update(value_sealed=first.value_sealed)
    second.refresh_from_db()
    with pytest.raises(crypto.SealedValueError):
        second.value  # noqa: B018


def test_values_stay_readable_after_a_rotation_and_reseal_to_the_new_key(personas, settings):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    variable = VariableFactory(environment=environment, key="pw", value="s3cret", sensitive=True)
    version = ConfigurationVersionFactory(
        environment=environment, tf_vars=[{"key": "pw", "value": "s3cret", "hcl": False}]
    )
    old = variable.value_key_id
    new = rotate(settings)
    assert crypto.count_using_key(old) == 2
    variable.refresh_from_db()
    assert variable.value == "s3cret"
    assert crypto.reseal_all() == 2
    assert crypto.count_using_key(old) == 0
    variable.refresh_from_db()
    version.refresh_from_db()
    assert (variable.value_key_id, version.tf_vars_key_id) == (new, new)
    assert variable.value == "s3cret"
    assert version.tf_vars() == [{"key": "pw", "value": "s3cret", "hcl": False}]
    assert crypto.reseal_all() == 0


def test_version_variables_are_sealed_in_the_database(personas):
    ConfigurationVersionFactory(
        environment=EnvironmentFactory(namespace=personas.org.namespace, name="app"),
        tf_vars=[{"key": "token", "value": "plain-secret-text", "hcl": False}],
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT tf_vars_sealed FROM environments_configurationversion")
        (sealed,) = cursor.fetchone()
    assert "plain-secret-text" not in sealed
    assert "token" not in sealed


def test_the_reseal_command_moves_values_to_the_current_key(personas, settings):
    from io import StringIO

    from django.core.management import call_command

    variable = VariableFactory(key="pw", value="s3cret")
    old = variable.value_key_id
    new = rotate(settings)
    out = StringIO()
    call_command("reseal_variables", "--count", old, stdout=out)
    assert out.getvalue().strip() == f"1 sealed values use key {old}."
    call_command("reseal_variables", stdout=out)
    assert f"Resealed 1 values under key {new}." in out.getvalue()
    variable.refresh_from_db()
    assert (variable.value_key_id, variable.value) == (new, "s3cret")
