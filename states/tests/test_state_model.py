"""A model-based test of the state rules through the real API.

Hypothesis drives random sequences of PUTs (fresh, repeated, stale, other
lineage), DELETEs and rollbacks against one environment and compares every
answer with a small model of the contract. After every step: the head is
what the model says, serials in the history only grow, and the history is
exactly the accepted writes.
"""

import itertools
import json

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from .factories import environment, put_state

pytestmark = pytest.mark.django_db

LINEAGES = ["lineage-a", "lineage-b"]
_names = itertools.count()


def _body(serial, lineage, tag):
    return json.dumps({"version": 3, "serial": serial, "lineage": lineage, "tag": tag}).encode()


def _with_serial(body, serial):
    document = json.loads(body)
    document["serial"] = serial
    return document


class StateRules(RuleBasedStateMachine):
    """The model: the head (serial, lineage, bytes) or None, and every accepted write."""

    personas = None

    def __init__(self):
        super().__init__()
        name = f"model{next(_names)}"
        environment("acme", name)
        self.url = f"/api/v1/terraform/state/acme/{name}"
        self.head = None
        self.history = []  # (serial, json document) of accepted versions, oldest first
        self.tags = itertools.count()

    @property
    def max_serial(self):
        return max((serial for serial, _ in self.history), default=None)

    @rule(delta=st.integers(-2, 3), other_lineage=st.booleans())
    def put(self, delta, other_lineage):
        base = self.head[0] if self.head else (self.max_serial or 0)
        serial = max(0, base + delta)
        lineage = LINEAGES[1] if other_lineage else LINEAGES[0]
        body = _body(serial, lineage, next(self.tags))
        response = put_state(self.personas.writer.client, self.url, body)
        if self.head is not None:
            head_serial, head_lineage, _ = self.head
            expected = 409 if lineage != head_lineage or serial <= head_serial else 200
        elif self.max_serial is not None and serial <= self.max_serial:
            expected = 422
        else:
            expected = 200
        assert response.status_code == expected, (serial, lineage, self.head, response.content)
        if expected == 200:
            self.head = (serial, lineage, body)
            self.history.append((serial, json.loads(body)))

    @precondition(lambda self: self.head is not None)
    @rule()
    def put_the_same_bytes_again(self):
        response = put_state(self.personas.writer.client, self.url, self.head[2])
        assert response.status_code == 200

    @rule()
    def delete(self):
        response = self.personas.admin.client.delete(self.url)
        assert response.status_code == (200 if self.head else 404)
        self.head = None

    @precondition(lambda self: self.history)
    @rule(data=st.data())
    def roll_back(self, data):
        serial, document = data.draw(st.sampled_from(self.history))
        response = self.personas.admin.client.post(f"{self.url}/versions/{serial}/rollback")
        assert response.status_code == 200, response.content
        new_serial = self.max_serial + 1
        restored = _with_serial(json.dumps(document).encode(), new_serial)
        self.head = (new_serial, document["lineage"], self._stored_head())
        self.history.append((new_serial, restored))
        assert json.loads(self.head[2]) == restored

    def _stored_head(self):
        response = self.personas.reader.client.get(self.url)
        if response.streaming:
            return b"".join(response.streaming_content)
        return response.content

    @rule()
    def a_writer_may_not_roll_back(self):
        target = self.history[0][0] if self.history else 1
        response = self.personas.writer.client.post(f"{self.url}/versions/{target}/rollback")
        assert response.status_code == 403

    @invariant()
    def the_head_is_what_the_model_says(self):
        response = self.personas.reader.client.get(self.url)
        if self.head is None:
            assert response.status_code == 404
            return
        assert response.status_code == 200
        assert response["Content-MD5"]
        stored = json.loads(
            b"".join(response.streaming_content) if response.streaming else response.content
        )
        assert stored["serial"] == self.head[0]
        if self.head[2] is not None:
            assert json.dumps(stored).encode() == json.dumps(json.loads(self.head[2])).encode()

    @invariant()
    def the_history_is_exactly_the_accepted_writes(self):
        response = self.personas.reader.client.get(f"{self.url}/versions?per_page=100")
        assert response.status_code == 200
        serials = [version["serial"] for version in response.json()["versions"]]
        assert serials == [serial for serial, _ in reversed(self.history)]
        assert serials == sorted(serials, reverse=True)
        assert len(set(serials)) == len(serials)


def test_the_state_rules_hold_for_any_sequence_of_writes(personas):
    StateRules.personas = personas
    run_state_machine_as_test(
        StateRules,
        settings=settings(
            max_examples=30,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            database=None,
            # Generation can be slow on a busy machine; no other check is off.
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
