"""Fixtures of the states tests: a fresh environment `acme/network`."""

import pytest

from .factories import environment

URL = "/api/v1/terraform/state/acme/network"


@pytest.fixture
def network(personas):
    """The environment `acme/network` in the personas' organization."""
    return environment("acme", "network")


@pytest.fixture
def url():
    return URL
