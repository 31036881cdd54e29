"""atlas.compiled.loaded: instances of a compiled query's row, as from_db builds them."""

import pytest
from django.db.models import signals

from accounts.models import Namespace, Token, User
from accounts.tests.factories import UserFactory, token_for
from accounts.tokens import _LOOKUP_ATTNAMES
from atlas.compiled import _stores_plainly, loaded
from environments.lookup import _LEVELLED_ATTNAMES
from states.models import StateVersion
from states.selectors import HEAD_COLUMNS

pytestmark = pytest.mark.django_db


def _row(instance, attnames):
    return tuple(getattr(instance, attname) for attname in attnames)


def _same(built, expected):
    assert type(built) is type(expected)
    assert {k: v for k, v in vars(built).items() if k != "_state"} == {
        k: v for k, v in vars(expected).items() if k != "_state"
    }
    assert (built._state.adding, built._state.db) == (expected._state.adding, expected._state.db)
    assert built.get_deferred_fields() == expected.get_deferred_fields()


@pytest.mark.parametrize("model", [User, Token])
def test_an_instance_with_every_column_is_the_one_from_db_builds(model):
    token_for(UserFactory(username="holder"))
    stored = model.objects.get()
    attnames = tuple(field.attname for field in model._meta.concrete_fields)
    values = _row(stored, attnames)
    built = loaded(model, "default", attnames, values)
    _same(built, model.from_db("default", attnames, values))
    assert built == stored and built.get_deferred_fields() == set()


def test_an_instance_with_some_columns_defers_the_others_as_from_db_does():
    user = UserFactory(username="holder")
    attnames = ("id", "username", "namespace_id")
    values = _row(user, attnames)
    built = loaded(User, "default", attnames, values)
    _same(built, User.from_db("default", attnames, values))
    assert "email" in built.get_deferred_fields()
    assert built.namespace.name == "holder"  # the foreign key's descriptor still works


def test_an_init_signal_receiver_gets_from_db_instances():
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    signals.post_init.connect(receiver, sender=StateVersion)
    try:
        built = loaded(StateVersion, "default", ("id", "serial"), (7, 3))
    finally:
        signals.post_init.disconnect(receiver, sender=StateVersion)
    assert seen == [built] and (built.pk, built.serial) == (7, 3)


@pytest.mark.parametrize(
    "attnames",
    [
        ("id", "namespace"),  # the related object's descriptor, not the column's
        ("id", "is_authenticated"),  # not a field at all
        ("id", "no_such_column"),
    ],
)
def test_anything_but_plain_columns_takes_from_db(attnames):
    assert _stores_plainly(User, ("id", "namespace_id")) is True
    assert _stores_plainly(User, attnames) is False


def test_the_hot_lookups_build_their_instances_directly():
    """The token lookup's three models, the head's columns and the
    environment lookup's three models take the direct path: a field or an
    override added to them that from_db would treat differently shows here,
    not as a silent slowdown."""
    assert [model for model, _attnames in _LOOKUP_ATTNAMES] == [Token, User, Namespace]
    for model, attnames in _LOOKUP_ATTNAMES:
        assert _stores_plainly(model, attnames), model
    assert _stores_plainly(StateVersion, HEAD_COLUMNS)
    for model, attnames in _LEVELLED_ATTNAMES:  # the environment a URL names
        assert _stores_plainly(model, attnames), model
