"""The audit trail: every security-relevant action recorded once, with who
did it, with which token, from where; organization owners read theirs at
GET /api/v1/organizations/:org/audit and on a page, operators everything in
Django admin; old events are pruned."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, Level, Token
from accounts.tests.factories import PASSWORD, UserFactory, grant, team
from conftest import api_client
from environments.tests.factories import EnvironmentFactory
from runs.models import Run, Status
from runs.tests.factories import RunFactory, finished_version
from states.tests.factories import put_state, state_bytes

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/organizations/acme/audit"
ENV = "/api/v1/environments/acme/app"
STATE = "/api/v1/terraform/state/acme/app"


def token_id(text):
    return text.split(".")[0]


def test_every_recorded_action_appears_once_with_the_right_actor(personas):
    admin, writer, outsider = personas.admin, personas.writer, personas.outsider
    AuditEvent.objects.all().delete()

    # (actor, action) for every call below, in order.
    expected = []

    def did(persona, action):
        expected.append((persona, action))

    assert (
        admin.client.post(
            "/api/v1/environments",
            {"environment": {"username": "acme", "name": "app"}},
            format="json",
        ).status_code
        == 201
    )
    did(admin, "environment.create")
    assert (
        admin.client.patch(ENV, {"environment": {"auto_apply": True}}, format="json").status_code
        == 200
    )
    did(admin, "environment.update")
    assert (
        admin.client.post(
            "/api/v1/organizations/acme/teams", {"team": {"name": "ops"}}, format="json"
        ).status_code
        == 201
    )
    did(admin, "team.create")
    assert (
        admin.client.post(
            "/api/v1/organizations/acme/teams/ops/members",
            {"membership": {"username": "reader"}},
            format="json",
        ).status_code
        == 201
    )
    did(admin, "team.member_add")
    assert (
        admin.client.put(
            f"{ENV}/access/teams/ops", {"access": {"level": "write"}}, format="json"
        ).status_code
        == 201
    )
    did(admin, "grant.set")
    assert admin.client.delete(f"{ENV}/access/teams/ops").status_code == 204
    did(admin, "grant.remove")
    assert (
        admin.client.delete("/api/v1/organizations/acme/teams/ops/members/reader").status_code
        == 204
    )
    did(admin, "team.member_remove")
    assert admin.client.delete("/api/v1/organizations/acme/teams/ops").status_code == 204
    did(admin, "team.delete")
    invitation = admin.client.post(
        "/api/v1/organizations/acme/invitations",
        {"invitation": {"username": "outsider"}},
        format="json",
    ).json()["invitation"]
    did(admin, "invitation.create")
    assert outsider.client.post(f"/api/v1/invitations/{invitation['id']}/accept").status_code == 200
    did(outsider, "invitation.accept")
    did(outsider, "member.add")
    assert (
        admin.client.patch(
            "/api/v1/organizations/acme/members/outsider",
            {"membership": {"level": "write"}},
            format="json",
        ).status_code
        == 200
    )
    did(admin, "member.update")
    assert admin.client.delete("/api/v1/organizations/acme/members/outsider").status_code == 204
    did(admin, "member.remove")
    assert (
        writer.client.put(
            f"{ENV}/variables", {"variables": {"secret": "hunter2"}}, format="json"
        ).status_code
        == 200
    )
    did(writer, "variable.update")
    assert put_state(writer.client, STATE, state_bytes(serial=1)).status_code == 200
    did(writer, "state.write")
    assert (
        put_state(writer.client, STATE, state_bytes(serial=1)).status_code == 200
    )  # same bytes: nothing new
    assert admin.client.post(f"{STATE}/versions/1/rollback").status_code == 200
    did(admin, "state.rollback")
    assert admin.client.delete(STATE).status_code == 200
    did(admin, "state.delete")
    assert (
        admin.client.post(f"{ENV}/lock", {"reason": "maintenance"}, format="json").status_code
        == 200
    )
    did(admin, "environment.lock")
    assert admin.client.post(f"{ENV}/unlock", {}, format="json").status_code == 200
    did(admin, "environment.unlock")
    environment = personas.org.namespace.environments.get(name="app")
    run = RunFactory(
        environment=environment,
        configuration_version=finished_version(environment),
        status=Status.PLANNED,
    )
    assert writer.client.post(f"/api/v1/runs/{run.pk}/actions/discard").status_code == 200
    did(writer, "run.discard")
    assert admin.client.delete(ENV).status_code == 204
    did(admin, "environment.delete")

    response = admin.client.get(AUDIT, {"per_page": 100})
    assert response.status_code == 200
    events = response.json()["events"]
    assert response.json()["meta"]["total"] == len(expected) == len(events)
    seen = Counter((e["actor"], e["action"]) for e in events)
    assert seen == Counter((p.user.username, action) for p, action in expected)
    for event in events:
        persona = {"admin": admin, "writer": writer, "outsider": outsider}[event["actor"]]
        assert event["token_id"] == token_id(persona.token)
        assert event["address"] == "127.0.0.1"
    newest_first = [e["action"] for e in events]
    assert newest_first[0] == "environment.delete" and newest_first[-1] == "environment.create"
    assert "hunter2" not in response.content.decode()
    variables = next(e for e in events if e["action"] == "variable.update")
    assert variables["object"] == {
        "type": "environment",
        "id": str(environment.pk),
        "name": "acme/app",
    }
    assert variables["after"] == {
        "category": "terraform",
        "set": ["secret"],
        "created": ["secret"],
        "removed": [],
    }


def test_events_keep_their_actor_before_and_after(personas):
    personas.admin.client.patch(
        "/api/v1/organizations/acme/members/reader",
        {"membership": {"level": "write"}},
        format="json",
    )
    [event] = personas.admin.client.get(AUDIT, {"action": "member.update"}).json()["events"]
    assert event == {
        "id": event["id"],
        "action": "member.update",
        "actor": "admin",
        "token_id": token_id(personas.admin.token),
        "address": "127.0.0.1",
        "object": {"type": "membership", "id": event["object"]["id"], "name": "reader"},
        "before": {"level": "read"},
        "after": {"level": "write"},
        "created_at": event["created_at"],
    }


def test_the_audit_list_filters_by_action_family_actor_and_time(personas):
    client = personas.admin.client
    client.post("/api/v1/organizations/acme/teams", {"team": {"name": "ops"}}, format="json")
    client.post(
        "/api/v1/organizations/acme/teams/ops/members",
        {"membership": {"username": "reader"}},
        format="json",
    )
    personas.writer.client.post(
        "/api/v1/environments", {"environment": {"username": "acme", "name": "w"}}, format="json"
    )
    AuditEvent.objects.filter(action="team.create").update(
        created_at=timezone.now() - timedelta(days=3)
    )

    def actions(**params):
        return [e["action"] for e in client.get(AUDIT, params).json()["events"]]

    assert actions(action="team") == ["team.member_add", "team.create"]
    assert actions(action="team.create") == ["team.create"]
    assert actions(actor="WRITER") == ["environment.create"]
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert "team.create" not in actions(since=since)
    assert "team.member_add" in actions(since=since)
    bad = client.get(AUDIT, {"since": "yesterday"})
    assert bad.status_code == 400
    assert bad.json() == {"errors": {"since": ["must be an ISO 8601 date or date-time"]}}


def test_the_audit_list_is_paginated(personas):
    for name in ("a", "b", "c"):
        personas.admin.client.post(
            "/api/v1/organizations/acme/teams", {"team": {"name": name}}, format="json"
        )
    body = personas.admin.client.get(AUDIT, {"per_page": 2, "page": 2}).json()
    assert body["meta"] == {"total": 4, "page": 2, "per_page": 2}
    assert [e["object"]["name"] for e in body["events"]] == ["a", "acme"]


@pytest.mark.parametrize(
    ("role", "expected"), [("writer", 403), ("reader", 403), ("outsider", 404)]
)
def test_only_owners_read_the_audit_trail(personas, role, expected):
    response = getattr(personas, role).client.get(AUDIT)
    assert response.status_code == expected
    signed_in = Client()
    signed_in.force_login(getattr(personas, role).user)
    assert signed_in.get("/organizations/acme/audit").status_code == expected


def test_an_organization_sees_only_its_own_events(personas):
    from accounts.tests.factories import organization

    organization("globex", personas.outsider.user)
    personas.outsider.client.post(
        "/api/v1/organizations/globex/teams", {"team": {"name": "x"}}, format="json"
    )
    actions = [e["action"] for e in personas.admin.client.get(AUDIT).json()["events"]]
    assert actions == ["organization.create"]


def test_signing_in_and_failing_to_are_recorded_for_operators(personas):
    client = Client()
    client.post("/login", {"username": "reader", "password": "wrong"})
    client.post("/login", {"username": "reader", "password": PASSWORD})
    api_client().post(
        "/api/v1/authenticate", {"user": {"login": "reader", "password": "nope"}}, format="json"
    )
    rows = list(
        AuditEvent.objects.filter(action__startswith="user.sign_in")
        .order_by("id")
        .values_list("action", "actor_name", "object_name", "address")
    )
    assert rows == [
        ("user.sign_in_failed", "", "reader", "127.0.0.1"),
        ("user.sign_in", "reader", "reader", "127.0.0.1"),
        ("user.sign_in_failed", "", "reader", "127.0.0.1"),
    ]


def test_tokens_made_and_revoked_are_recorded_but_run_tokens_are_not(personas):
    started = timezone.now()
    response = personas.reader.client.post(
        "/api/v1/tokens", {"token": {"description": "ci"}}, format="json"
    )
    public_id = response.json()["token"]["id"]
    personas.reader.client.delete(f"/api/v1/tokens/{public_id}")
    from accounts.tests.factories import run_token_for

    run_token_for(
        personas.reader.user, EnvironmentFactory(namespace=personas.org.namespace, name="x")
    )
    rows = list(
        AuditEvent.objects.filter(action__startswith="token.", created_at__gt=started)
        .order_by("id")
        .values_list("action", "actor_name", "object_id")
    )
    assert rows == [("token.create", "reader", public_id), ("token.revoke", "reader", public_id)]
    assert Token.objects.filter(kind=Token.Kind.RUN).exists()


def test_the_audit_page_lists_and_filters_events(personas):
    grant(
        EnvironmentFactory(namespace=personas.org.namespace, name="app"),
        Level.WRITE,
        team=team(personas.org, "ops"),
    )
    personas.admin.client.post(
        "/api/v1/organizations/acme/teams", {"team": {"name": "dev"}}, format="json"
    )
    personas.admin.client.patch(
        "/api/v1/organizations/acme/members/reader",
        {"membership": {"level": "write"}},
        format="json",
    )
    client = Client()
    client.force_login(personas.admin.user)
    page = client.get("/organizations/acme/audit").content.decode()
    assert "team.create" in page and "organization.create" in page
    assert "level: read → write" in page
    filtered = client.get("/organizations/acme/audit", {"action": "organization"}).content.decode()
    assert "organization.create" in filtered and "team.create" not in filtered


def test_the_audit_page_costs_the_same_queries_for_more_events(personas, django_assert_num_queries):
    client = Client()
    client.force_login(personas.admin.user)
    client.get("/organizations/acme/audit")
    with django_assert_num_queries(6):
        client.get("/organizations/acme/audit")
    for name in range(10):
        personas.admin.client.post(
            "/api/v1/organizations/acme/teams", {"team": {"name": f"t{name}"}}, format="json"
        )
    with django_assert_num_queries(6):
        client.get("/organizations/acme/audit")


def test_operators_see_every_event_in_django_admin(personas):
    operator = UserFactory(username="op", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)
    response = client.get("/admin/accounts/auditevent/")
    assert response.status_code == 200
    assert "organization.create" in response.content.decode()
    assert client.get("/admin/accounts/auditevent/add/").status_code == 403


def test_old_events_are_pruned_after_the_retention(personas, settings, capsys):
    from accounts import audit

    settings.ATLAS_AUDIT_RETENTION_DAYS = 30
    old = AuditEvent.objects.update(created_at=timezone.now() - timedelta(days=31))
    keep = audit.record("team.create", name="fresh")
    call_command("prune_audit")
    assert f"Deleted {old} audit events." in capsys.readouterr().out
    assert list(AuditEvent.objects.all()) == [keep]
    settings.ATLAS_AUDIT_RETENTION_DAYS = 0
    AuditEvent.objects.update(created_at=timezone.now() - timedelta(days=3650))
    assert audit.prune() == 0


def test_run_actions_by_hand_are_recorded_with_who_did_them(personas):
    environment = EnvironmentFactory(namespace=personas.org.namespace, name="app")
    run = RunFactory(
        environment=environment,
        configuration_version=finished_version(environment),
        status=Status.PLANNED,
    )
    assert personas.writer.client.post(f"/api/v1/runs/{run.pk}/actions/confirm").status_code == 200
    other = RunFactory(
        environment=environment,
        configuration_version=finished_version(environment),
        status=Status.PENDING,
    )
    personas.admin.client.post(f"/api/v1/runs/{other.pk}/actions/cancel")
    rows = list(
        AuditEvent.objects.filter(action__startswith="run.")
        .order_by("id")
        .values_list("action", "actor_name", "object_name")
    )
    assert rows == [
        ("run.confirm", "writer", f"run {run.pk} of acme/app"),
        ("run.cancel", "admin", f"run {other.pk} of acme/app"),
    ]
    assert Run.objects.get(pk=other.pk).status == Status.CANCELED
