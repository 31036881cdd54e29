"""Schemathesis fuzzes every operation of /api/v1/schema against the app.

With a valid token: no 5xx, and every documented response matches the
schema. Without one: nothing but 401, except the endpoints that are public
by design. Bounded and derandomized so CI is reproducible.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from atlas.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/schema?format=json", application)

FUZZ_SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    # `personas` is set up once per test: a request that changes data may,
    # and later examples meet the server as it left it. Generation takes long
    # on a busy machine. (Examples are derandomized: no other check can flake.)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Public by design: logging in, the schema itself, and the upload URL whose
# one-time secret sits in its path.
PUBLIC = {
    ("POST", "/api/v1/authenticate"),
    ("GET", "/api/v1/schema"),
}


def _is_public(case):
    return (case.method.upper(), case.path) in PUBLIC or "configuration-uploads" in case.path


def _routes_to_an_operation(path):
    """False for paths no route matches (say, a run id that is not a number):
    those are a 404 for everyone, signed in or not."""
    from django.urls import Resolver404, resolve

    from atlas.views import api_not_found

    try:
        return resolve(path.split("?")[0]).func is not api_not_found
    except Resolver404:
        return False


@pytest.fixture(autouse=True)
def no_failure_throttle(settings):
    # Fuzzed token headers count as failed attempts; the throttle has its own tests.
    settings.ATLAS_AUTH_FAILURE_LIMIT = 10**9


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@FUZZ_SETTINGS
def test_no_operation_fails_or_breaks_its_schema_with_a_valid_token(case, personas):
    response = case.call(headers={"X-Atlas-Token": personas.admin.token})
    case.validate_response(
        response,
        checks=[checks.not_a_server_error, checks.response_schema_conformance],
    )


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_401_without_a_token(case, personas):
    if _is_public(case):
        return
    response = case.call()
    expected = 401 if _routes_to_an_operation(case.formatted_path) else 404
    assert response.status_code == expected, (
        case.method,
        case.formatted_path,
        response.status_code,
    )
    assert set(response.json()) == {"errors"}
