"""fetch_one: the compiled hot-path queries, on Django's cursor or the DB-API's."""

import pytest
from django.db import DatabaseError, connection

from atlas.compiled import fetch_one

pytestmark = pytest.mark.django_db

SQL = "SELECT %s, 'a %%s literal', 'x' || %s"


def test_it_answers_the_same_row_on_either_cursor(django_assert_num_queries):
    direct = fetch_one(SQL, [7, "y"])
    with django_assert_num_queries(1):  # recorded: Django's cursor
        counted = fetch_one(SQL, [7, "y"])
    assert direct == counted == (7, "a %s literal", "xy")
    assert fetch_one("SELECT 1 WHERE 1 = %s", [2]) is None


def test_a_failure_is_djangos_error_and_marks_the_connection():
    with pytest.raises(DatabaseError) as failure:
        fetch_one("SELECT * FROM no_such_table WHERE id = %s", [1])
    assert type(failure.value).__module__ == "django.db.utils"  # not the driver's own
    assert failure.value.__cause__ is not None  # which is kept as the cause
    assert connection.errors_occurred
