"""Every operation of /api/v1/schema, fed hostile input, with a valid token:
never a 5xx, and every error is the contract's JSON with a contract status.

Hostile input: NUL bytes, lone surrogates, text that is not UTF-8, numbers
beyond every integer type, NaN, deep nesting, long strings and bodies past
the limit, in every path parameter, query parameter and body field the
schema names (JSON and form bodies alike). The path parameters otherwise
name real data (an environment with state, a run, a configuration version,
a token), so bodies reach the code behind the lookups. Each request runs in
a savepoint that is rolled back, so a DELETE never hides the next case.

No randomness: the same few hundred requests on every run, on SQLite and
on PostgreSQL (CI runs the suite on both). Schemathesis's generated fuzzing
is atlas/tests/test_api_fuzz.py.
"""

import json
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator

from accounts.tests.factories import token_for
from conftest import api_client
from environments.tests.factories import ConfigurationVersionFactory, VariableFactory
from runs.models import Status
from runs.tests.factories import RunFactory, finished_version
from states.tests.factories import StateVersionFactory, environment

pytestmark = pytest.mark.django_db

# The contract's statuses for a caller with a valid token (api-v1.md).
ERROR_STATUSES = {400, 403, 404, 405, 409, 413, 415, 422, 429}

HOSTILE_TEXT = [
    "a\x00b",
    "\ud800",
    "x\udc00y",
    "\U0001f600\u202e\ufeff",
    "9" * 40,
    "-1",
    "1e400",
    "../../etc/passwd",
    "%00",
    "' OR 1=1 --",
    "x" * 10_000,
    "",
]
HOSTILE_VALUES = [
    10**40,
    -(10**40),
    2**63,
    1.5,
    True,
    None,
    [],
    {"a": {"b": "\x00"}},
]
# Raw path segments: NUL, a lone surrogate as (invalid) UTF-8, a Latin-1 byte.
HOSTILE_SEGMENTS = ["%00", "%ED%B0%80", "%FF", "9" * 40, "-1", "x" * 2000, "..", "%2F"]
HOSTILE_QUERY = ["%00", "%ED%B0%80", "%FF", "9" * 40, "-1", "1_0", "x" * 2000, "%26%3D"]
RAW_JSON_BODIES = [
    b'{"a": ' * 5000 + b"1" + b"}" * 5000,
    b"[" * 100_000,
    b'{"x": NaN}',
    b'{"x": 1' + b"0" * 5000 + b"}",
    b'"\\ud800"',
    b"\xff\xfe",
    b"null",
    b"[]",
    # A state (and anything else taking JSON) with hostile text where a column keeps it.
    b'{"version": 3, "serial": 1, "lineage": "a\\u0000b"}',
    b'{"version": 3, "serial": 1, "lineage": "a\\ud800b"}',
]


def _schema():
    return SchemaGenerator().get_schema(request=None, public=True)


SCHEMA = _schema()
OPERATIONS = [
    (method.upper(), path) for path, operations in SCHEMA["paths"].items() for method in operations
]


def _resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = SCHEMA["components"]["schemas"][name]
    return node


def body_with(node, leaf, depth=0):
    """A body the schema describes, with `leaf` in every field."""
    node = _resolve(node)
    if depth > 6:
        return leaf
    if "allOf" in node:
        parts = [body_with(part, leaf, depth + 1) for part in node["allOf"]]
        if not all(isinstance(part, dict) for part in parts):
            return leaf  # an enum or a scalar under a reference
        return {key: value for part in parts for key, value in part.items()}
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        body = {
            name: body_with(sub, leaf, depth + 1)
            for name, sub in node.get("properties", {}).items()
        }
        extra = node.get("additionalProperties")
        if extra:
            body["key"] = body_with(extra if isinstance(extra, dict) else {}, leaf, depth + 1)
        return body
    if kind == "array":
        return [body_with(node.get("items", {}), leaf, depth + 1)]
    return leaf


def form_pairs(value, prefix=""):
    """Rack-style form pairs for a nested body (`user[login]=...`)."""
    if isinstance(value, dict):
        return [
            p
            for key, item in value.items()
            for p in form_pairs(item, f"{prefix}[{key}]" if prefix else key)
        ]
    if isinstance(value, list):
        return [p for item in value for p in form_pairs(item, f"{prefix}[]")]
    return [(prefix, "" if value is None else str(value))]


def form_body(value):
    def encode(text):
        return quote(text.encode("utf-8", "surrogatepass"), safe="[]")

    return "&".join(f"{encode(k)}={encode(v)}" for k, v in form_pairs(value))


@pytest.fixture
def world(personas):
    network = environment("acme", "network")
    for serial in (1, 2):
        StateVersionFactory(environment=network, serial=serial)
    VariableFactory(environment=network, key="region", value="eu")
    pending = ConfigurationVersionFactory(environment=network)
    finished = finished_version(network, user=personas.writer.user)
    run = RunFactory(environment=network, configuration_version=finished, status=Status.PLANNED)
    spare = token_for(personas.admin.user, description="spare")
    return SimpleNamespace(
        client=api_client(personas.admin.token),
        params={
            "username": "acme",
            "name": "network",
            "run_id": str(run.pk),
            "serial": "1",
            "token": pending.secret,
            "secret": pending.secret,
            "public_id": spare.split(".", 1)[0],
        },
    )


def real_path(method, path, params):
    if path.startswith("/api/v1/organizations"):
        params = {**params, "name": "acme", "username": "writer"}
    for key, value in params.items():
        path = path.replace(f"{{{key}}}", value)
    return path


def _contract_error(response, allowed):
    if response.status_code < 400:
        return None
    if response.status_code not in allowed:
        return f"status {response.status_code} is not one of the contract's"
    if not response["Content-Type"].startswith("application/json"):
        return f"a {response.status_code} that is not JSON"
    body = json.loads(response.content)
    shaped = (
        set(body) == {"errors"}
        and isinstance(body["errors"], dict)
        and body["errors"]
        and all(
            isinstance(m, list) and m and all(isinstance(t, str) for t in m)
            for m in body["errors"].values()
        )
    )
    return None if shaped else f"a {response.status_code} without the errors shape: {body!r:.200}"


def call(client, method, path, body=None, content_type="application/json"):
    with transaction.atomic():
        response = client.generic(method, path, body or b"", content_type=content_type)
        transaction.set_rollback(True)
    return response


def requests_for(method, path, world):
    """(description, path, body, content type) of every hostile request."""
    operation = SCHEMA["paths"][path][method.lower()]
    base = real_path(method, path, world.params)
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    for name in names:
        for segment in HOSTILE_SEGMENTS:
            hostile = real_path(method, path, {**world.params, name: segment})
            yield f"path {name}={segment[:20]}", hostile, None, "application/json"
    queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    if method == "GET":
        queries += ["page", "per_page"]
    for name in queries:
        for value in HOSTILE_QUERY:
            yield f"query {name}={value[:20]}", f"{base}?{name}={value}", None, "application/json"
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"].get("schema", {})
        for leaf in HOSTILE_TEXT + HOSTILE_VALUES:
            body = json.dumps(body_with(schema, leaf)).encode("utf-8", "surrogatepass")
            yield f"json leaf {leaf!r:.20}", base, body, "application/json"
        for raw in RAW_JSON_BODIES:
            yield f"raw json {raw[:20]!r}", base, raw, "application/json"
        yield (
            "json past the body limit",
            base,
            b'{"x": "' + b"x" * (5 << 20) + b'"}',
            "application/json",
        )
    if "application/x-www-form-urlencoded" in content:
        schema = content["application/x-www-form-urlencoded"].get("schema", {})
        for leaf in HOSTILE_TEXT:
            body = form_body(body_with(schema, leaf))
            yield f"form leaf {leaf!r:.20}", base, body, "application/x-www-form-urlencoded"
        yield "form too deep", base, "a" + "[a]" * 50 + "=1", "application/x-www-form-urlencoded"
        yield (
            "form too many",
            base,
            "&".join(f"a{i}=1" for i in range(2000)),
            "application/x-www-form-urlencoded",
        )


@pytest.fixture(autouse=True)
def no_failure_throttle(settings):
    # A hostile upload secret or token id counts as a failure; the throttle has its own tests.
    settings.ATLAS_AUTH_FAILURE_LIMIT = 10**9


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_hostile_input_never_gets_a_5xx_or_a_malformed_error(world, method, path):
    problems = []
    count = 0
    # Logging in is public: wrong credentials there are a 401 like any other.
    allowed = ERROR_STATUSES | ({401} if path == "/api/v1/authenticate" else set())
    for what, url, body, content_type in requests_for(method, path, world):
        count += 1
        response = call(world.client, method, url, body, content_type)
        if response.status_code >= 500:
            problems.append(f"{what}: {response.status_code} {response.content[:200]!r}")
        elif error := _contract_error(response, allowed):
            problems.append(f"{what}: {error}")
    assert count > 0
    assert problems == []
