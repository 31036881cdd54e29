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
"""

import functools

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX


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
