"""GET /api/v1/terraform/state: what the caller may read, newest first, in constant queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import organization
from states.models import EnvironmentState

from .factories import StateVersionFactory, environment, put_state, state_bytes

LIST = "/api/v1/terraform/state"


def stored(namespace, name, minutes_ago=0):
    env = environment(namespace, name)
    StateVersionFactory(environment=env, serial=1)
    EnvironmentState.objects.filter(pk=env.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return env


def names(response):
    return [
        (s["environment"]["username"], s["environment"]["name"]) for s in response.json()["states"]
    ]


def test_it_lists_readable_states_newest_first(personas):
    stored("acme", "old", minutes_ago=30)
    stored("acme", "new", minutes_ago=1)
    stored("acme", "middle", minutes_ago=10)
    response = personas.reader.client.get(LIST)
    assert response.status_code == 200
    assert names(response) == [("acme", "new"), ("acme", "middle"), ("acme", "old")]
    assert response.json()["meta"] == {"total": 3, "page": 1, "per_page": 20}
    item = response.json()["states"][0]
    assert set(item) == {"updated_at", "environment"}


def test_it_shows_nobody_what_they_may_not_read(personas):
    stored("acme", "network")
    other = organization("globex", personas.outsider.user)
    stored(other.name, "secret")
    stored("outsider", "personal")
    assert names(personas.reader.client.get(LIST)) == [("acme", "network")]
    assert sorted(names(personas.outsider.client.get(LIST))) == [
        ("globex", "secret"),
        ("outsider", "personal"),
    ]


def test_environments_without_a_head_are_not_listed(personas):
    environment("acme", "empty")
    cleared = stored("acme", "cleared")
    personas.admin.client.delete(f"/api/v1/terraform/state/acme/{cleared.name}")
    assert personas.admin.client.get(LIST).json()["states"] == []


def test_username_filters_one_namespace_case_insensitively(personas):
    stored("acme", "network")
    stored("admin", "mine")
    assert names(personas.admin.client.get(f"{LIST}?username=ACME")) == [("acme", "network")]
    assert names(personas.admin.client.get(f"{LIST}?username=admin")) == [("admin", "mine")]
    assert personas.reader.client.get(f"{LIST}?username=admin").json()["states"] == []


def test_it_paginates_with_the_total(personas):
    for index in range(5):
        stored("acme", f"env{index}", minutes_ago=index)
    data = personas.reader.client.get(f"{LIST}?per_page=2&page=3").json()
    assert [s["environment"]["name"] for s in data["states"]] == ["env4"]
    assert data["meta"] == {"total": 5, "page": 3, "per_page": 2}
    assert personas.reader.client.get(f"{LIST}?page=9").json()["states"] == []
    assert personas.reader.client.get(f"{LIST}?per_page=x").status_code == 400


def test_a_new_write_moves_a_state_to_the_top(personas):
    stored("acme", "a", minutes_ago=5)
    stored("acme", "b", minutes_ago=1)
    put_state(personas.writer.client, "/api/v1/terraform/state/acme/a", state_bytes(serial=2))
    assert names(personas.reader.client.get(LIST))[0] == ("acme", "a")


@pytest.mark.parametrize("rows", [3, 30])
def test_a_page_costs_the_same_queries_whatever_its_length(
    personas, django_assert_num_queries, rows
):
    for index in range(rows):
        stored("acme", f"env{index}")
    personas.reader.client.get(LIST)  # the token's last use is recorded once a minute
    # Token, count, page.
    with django_assert_num_queries(3):
        response = personas.reader.client.get(f"{LIST}?per_page=100")
    assert len(response.json()["states"]) == rows
