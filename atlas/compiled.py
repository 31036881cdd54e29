"""Running a query compiled once per process at the cost of the query itself.

The token lookup and the state head lookup, the hot path of every
Terraform command, are compiled from their querysets once per process
(accounts.tokens, states.selectors). On SQLite, Django's cursor then still
cost twice the query: a cursor wrapper, and rewriting `%s` to `?` over the
whole SQL text (1.7 KB for the token lookup) with a regular expression on
every call. `fetch_one` rewrites a text once and runs it on the
connection's own DB-API cursor inside Django's error wrapper, so a failure
is a django.db error and marks the connection as Django's cursor would.
While queries are recorded or wrapped (DEBUG, the tests' query counts,
execute_wrappers) it takes Django's cursor, so every query shows there.

`loaded` turns the row into model instances as `Model.from_db` does, at a
third of its cost, for the models where the two cannot differ.
"""

import functools

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.db.models import Model, signals
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute


@functools.lru_cache(maxsize=32)
def _qmark(sql):
    """The SQLite backend's own rewriting (SQLiteCursorWrapper.convert_query)."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


def fetch_one(sql, params, connection=None):
    """The first row of `sql` (Django's `%s` style) with `params`, or None.

    `connection`: the default database's, as the caller looked it up (every
    attribute read through django.db.connection is a thread-local lookup).
    """
    connection = connection or connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "sqlite" or connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        cursor = connection.connection.cursor()
        try:
            cursor.execute(_qmark(sql), params)
            return cursor.fetchone()
        finally:
            cursor.close()


def compile_values(queryset, connection):
    """(sql, params, converters) of a values_list() queryset on `connection`:
    the SQL the ORM runs for it, and the converters it applies to each row
    (dates and booleans on SQLite)."""
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
    return sql, list(params), list(compiler.get_converters(fields).items())


def converted(row, converters, connection):
    """`row` as the ORM returns it: through the converters of `compile_values`."""
    row = list(row)
    for position, (functions, expression) in converters:
        value = row[position]
        for function in functions:
            value = function(value, expression, connection)
        row[position] = value
    return row


def parameter_roles(params, stand_ins, constants=frozenset()):
    """The role of each parameter of SQL compiled with `stand_ins` ({role:
    stand-in value}), or ("constant", value) for one of `constants`; None
    when some parameter is neither or a stand-in is missing: the SQL then
    depends on more than the roles, and must not be reused."""
    role_of = {value: role for role, value in stand_ins.items()}
    roles = [
        role_of.get(param) or (("constant", param) if param in constants else None)
        for param in params
    ]
    if None in roles or not set(stand_ins) <= set(roles):
        return None
    return roles


def parameters(roles, values):
    """The parameters for `roles` (from `parameter_roles`) and {role: value}."""
    return [role[1] if isinstance(role, tuple) else values[role] for role in roles]


@functools.cache
def _stores_plainly(model, attnames):
    """Whether `Model.__init__` would only store `attnames` in the instance's
    __dict__: no override of __init__ or from_db, and each a concrete field
    of the model itself behind a plain field descriptor (which has no
    __set__; a foreign key's also forgets a cached related object, which a
    fresh instance has none of)."""
    if model.__init__ is not Model.__init__ or model.from_db.__func__ is not Model.from_db.__func__:
        return False
    concrete = {field.attname for field in model._meta.concrete_fields}
    for attname in attnames:
        descriptor = model.__dict__.get(attname)
        if attname not in concrete or not isinstance(descriptor, DeferredAttribute):
            return False
        setter = getattr(type(descriptor), "__set__", None)
        if setter not in (None, ForeignKeyDeferredAttribute.__set__):
            return False
    return True


def loaded(model, alias, attnames, values):
    """`model.from_db(alias, attnames, values)`: an instance read from the
    database with the columns `attnames` (a tuple; any others deferred).

    `Model.__init__` costs 5 µs an instance, most of it for work that does
    nothing here (the init signals, a setattr per field), and a state read
    builds four. Where nothing can observe the difference (no init signal
    receiver, no override, plain field descriptors) the instance is built
    directly in 1.6 µs, with the same __dict__ and _state; else by from_db.
    """
    # An init signal receiver for any model at all (none in this project): from_db.
    listened = signals.pre_init.receivers or signals.post_init.receivers
    if listened or not _stores_plainly(model, attnames):
        return model.from_db(alias, attnames, values)
    instance = object.__new__(model)
    state = instance._state = ModelState()
    state.adding, state.db = False, alias
    instance.__dict__.update(zip(attnames, values, strict=True))
    return instance
