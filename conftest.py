"""Shared fixtures: isolated data directory, personas, API clients."""

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from accounts.models import Level
from accounts.tests.factories import UserFactory, member, organization, token_for
from atlas.keys import reset_key_ring
from atlas.testing.clients import routing_api_client

pytest_plugins = ["atlas.testing.browser", "atlas.testing.s3", "atlas.testing.gunicorn"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Live servers and workers are other processes that open the test
    database, so on SQLite it is a file in every session, not in memory."""
    from atlas.testing.gunicorn import sqlite_test_database_in_a_file

    sqlite_test_database_in_a_file()


@pytest.fixture(autouse=True)
def isolated_data(settings, tmp_path):
    """Blobs and keys of each test in its own directory; a clean cache."""
    blobs = tmp_path / "blobs"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blobs)},
        },
        # Tests do not run collectstatic: no manifest to look names up in.
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.ATLAS_KEYS = ""
    settings.ATLAS_KEYS_FILE = str(tmp_path / "keys.json")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reset_key_ring()
    cache.clear()
    yield SimpleNamespace(root=tmp_path, blobs=blobs)
    reset_key_ring()
    cache.clear()


def api_client(token=None):
    """An API client; with a token, its calls take the token API stack (atlas.handlers)."""
    client = routing_api_client()
    if token:
        client.credentials(HTTP_X_ATLAS_TOKEN=token)
    return client


@pytest.fixture
def personas(db):
    """Organization `acme` with an admin, a writer and a reader; an outsider.

    Each persona has a user, a token's text and an API client using it.
    """
    people = {}
    for role in ("admin", "writer", "reader", "outsider"):
        user = UserFactory(username=role)
        text = token_for(user, description=f"{role} token")
        people[role] = SimpleNamespace(user=user, token=text, client=api_client(text))
    acme = organization("acme", people["admin"].user)
    member(acme, people["writer"].user, Level.WRITE)
    member(acme, people["reader"].user, Level.READ)
    return SimpleNamespace(org=acme, **people)


@pytest.fixture
def anonymous():
    return routing_api_client()
