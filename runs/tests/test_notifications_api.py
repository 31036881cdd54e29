"""`/api/v1/environments/:username/:name/notifications`: configurations,
their secret shown once, test deliveries and the deliveries list."""

import pytest
from django_tasks_db.models import DBTaskResult

from accounts.tests.factories import token_for
from conftest import api_client
from runs.models import Delivery, DeliveryAttempt, NotificationConfiguration

from .factories import notification

pytestmark = pytest.mark.django_db

BASE = "/api/v1/environments/acme/app/notifications"
HOOK = "https://hooks.example.com/atlas?token=abc"


def _post(client, body, **kwargs):
    return client.post(BASE, {"notification": body}, format="json", **kwargs)


def test_an_admin_creates_a_webhook_and_gets_its_secret_once(personas, env):
    response = _post(
        personas.admin.client, {"kind": "webhook", "url": HOOK, "events": ["errored", "planned"]}
    )
    assert response.status_code == 201, response.json()
    assert response["Cache-Control"] == "no-store"
    body = response.json()["notification"]
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["kind"] == "webhook" and body["enabled"] is True
    assert body["events"] == ["planned", "errored"]  # in the order of a run
    assert body["url"] == "https://hooks.example.com/atlas?token=****"
    assert body["has_secret"] is True and body["recipients"] == []
    configuration = NotificationConfiguration.objects.get()
    assert configuration.url == HOOK and configuration.secret == body["secret"]
    assert HOOK not in configuration.url_sealed
    assert body["secret"] not in configuration.secret_sealed

    again = personas.admin.client.get(f"{BASE}/{configuration.pk}").json()["notification"]
    assert "secret" not in again and again["url"] == body["url"]
    listed = personas.admin.client.get(BASE).json()
    assert listed["meta"] == {"total": 1, "page": 1, "per_page": 20}
    assert "secret" not in listed["notifications"][0]


def test_a_rack_form_body_gives_the_same_configuration_as_json(personas, env):
    form = (
        "notification[kind]=slack&notification[url]=https%3A%2F%2Fhooks.slack.com%2Fservices%2FT1%2FB2%2Fsecret"
        "&notification[events][]=applied&notification[events][]=errored&notification[enabled]=false"
    )
    response = personas.admin.client.post(
        BASE, form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201, response.json()
    body = response.json()["notification"]
    assert body["kind"] == "slack" and body["secret"] is None and body["has_secret"] is False
    assert body["events"] == ["applied", "errored"] and body["enabled"] is False
    assert body["url"] == "https://hooks.slack.com/services/T1/B2/****"
    json_body = _post(
        personas.admin.client,
        {
            "kind": "slack",
            "url": "https://hooks.slack.com/services/T1/B2/secret",
            "events": "applied,errored",
            "enabled": False,
        },
    ).json()["notification"]
    for key in ("kind", "url", "events", "enabled", "recipients"):
        assert json_body[key] == body[key]


def test_an_email_configuration_names_readers_and_addresses(personas, env):
    response = _post(
        personas.admin.client,
        {"kind": "email", "recipients": ["Reader", "ops@example.com"], "events": ["planned"]},
    )
    assert response.status_code == 201, response.json()
    body = response.json()["notification"]
    assert body["recipients"] == ["Reader", "ops@example.com"]
    assert body["url"] is None and body["secret"] is None


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"kind": "fax", "events": ["planned"]}, "kind", "must be one of webhook, slack, email"),
        ({"kind": "webhook", "url": HOOK, "events": []}, "events", "choose at least one event"),
        (
            {"kind": "webhook", "url": HOOK, "events": ["planned", "exploded"]},
            "events",
            "exploded: not an event",
        ),
        ({"kind": "webhook", "url": HOOK, "events": [1]}, "events", "must be a list of strings"),
        ({"kind": "webhook", "events": ["planned"]}, "url", "is required"),
        (
            {"kind": "webhook", "url": "ftp://hooks.example.com/x", "events": ["planned"]},
            "url",
            "must be an http:// or https:// URL",
        ),
        (
            {"kind": "webhook", "url": "file:///etc/passwd", "events": ["planned"]},
            "url",
            "must be an http:// or https:// URL",
        ),
        (
            {"kind": "slack", "url": "javascript:alert(1)", "events": ["planned"]},
            "url",
            "must be an http:// or https:// URL",
        ),
        (
            {"kind": "webhook", "url": "https://user:pw@hooks.example.com/", "events": ["planned"]},
            "url",
            "must not contain a user name or password",
        ),
        (
            {"kind": "webhook", "url": "http://127.0.0.1:8000/admin", "events": ["planned"]},
            "url",
            "points to 127.0.0.1, a loopback address",
        ),
        (
            {"kind": "webhook", "url": "http://localhost/", "events": ["planned"]},
            "url",
            "a loopback address",
        ),
        (
            {
                "kind": "webhook",
                "url": "http://169.254.169.254/latest/meta-data",
                "events": ["planned"],
            },
            "url",
            "a link-local address",
        ),
        (
            {"kind": "webhook", "url": "http://10.1.2.3/hook", "events": ["planned"]},
            "url",
            "a private address",
        ),
        (
            {"kind": "webhook", "url": "http://[::1]:9/", "events": ["planned"]},
            "url",
            "a loopback address",
        ),
        (
            {"kind": "email", "events": ["planned"]},
            "recipients",
            "name at least one user or email address",
        ),
        (
            {"kind": "email", "recipients": ["outsider"], "events": ["planned"]},
            "recipients",
            "outsider is not a user who can read acme",
        ),
        (
            {"kind": "email", "recipients": ["nobody-here", "not-an@"], "events": ["planned"]},
            "recipients",
            "not-an@ is not a valid email address",
        ),
        (
            {
                "kind": "email",
                "recipients": ["ops@example.com"],
                "url": HOOK,
                "events": ["planned"],
            },
            "url",
            "email notifications have no URL",
        ),
        (
            {"kind": "webhook", "url": HOOK, "recipients": ["reader"], "events": ["planned"]},
            "recipients",
            "only email notifications have recipients",
        ),
    ],
)
def test_invalid_configurations_are_refused_with_a_422_naming_the_field(
    personas, env, body, field, message
):
    response = _post(personas.admin.client, body)
    assert response.status_code == 422
    assert any(message in m for m in response.json()["errors"][field]), response.json()
    assert not NotificationConfiguration.objects.exists()


def test_private_receivers_are_accepted_when_the_setting_allows_them(personas, env, settings):
    settings.ATLAS_NOTIFY_ALLOW_PRIVATE = True
    body = {"kind": "webhook", "url": "http://10.1.2.3/hook", "events": ["planned"]}
    assert _post(personas.admin.client, body).status_code == 201
    settings.ATLAS_NOTIFY_ALLOW_PRIVATE = False
    body["url"] = "http://0.0.0.0/hook"
    assert _post(personas.admin.client, body).status_code == 422


def test_a_body_without_its_envelope_is_a_400(personas, env):
    response = personas.admin.client.post(BASE, {"kind": "webhook"}, format="json")
    assert response.status_code == 400
    assert "notification" in response.json()["errors"]


def test_an_environment_holds_at_most_twenty_configurations(personas, env):
    for _ in range(20):
        notification(env)
    response = _post(personas.admin.client, {"kind": "webhook", "url": HOOK, "events": ["planned"]})
    assert response.status_code == 422
    assert response.json()["errors"]["base"] == ["An environment has at most 20 notifications."]


def test_patch_changes_what_it_names_and_keeps_the_rest(personas, env):
    configuration, secret = notification(env, url=HOOK)
    url = f"{BASE}/{configuration.pk}"
    response = personas.admin.client.patch(
        url, {"notification": {"events": ["applied"], "enabled": False}}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()["notification"]
    assert body["events"] == ["applied"] and body["enabled"] is False
    configuration.refresh_from_db()
    assert configuration.url == HOOK and configuration.secret == secret

    moved = personas.admin.client.patch(
        url, {"notification": {"url": "https://other.example.com/x"}}, format="json"
    )
    assert moved.status_code == 200
    configuration.refresh_from_db()
    assert configuration.url == "https://other.example.com/x"

    refused = personas.admin.client.patch(url, {"notification": {"kind": "slack"}}, format="json")
    assert refused.status_code == 422
    assert refused.json()["errors"]["kind"] == ["cannot be changed: create another configuration"]
    private = personas.admin.client.patch(
        url, {"notification": {"url": "http://127.0.0.1/"}}, format="json"
    )
    assert private.status_code == 422
    configuration.refresh_from_db()
    assert configuration.url == "https://other.example.com/x"


def test_enabling_a_disabled_configuration_clears_its_failure_streak(personas, env):
    configuration, _secret = notification(env)
    NotificationConfiguration.objects.filter(pk=configuration.pk).update(
        enabled=False, disabled_reason="Disabled: failing.", failing_since="2026-01-01T00:00Z"
    )
    response = personas.admin.client.patch(
        f"{BASE}/{configuration.pk}", {"notification": {"enabled": True}}, format="json"
    )
    body = response.json()["notification"]
    assert body["enabled"] is True
    assert body["disabled_reason"] is None and body["failing_since"] is None


def test_delete_removes_the_configuration_and_its_deliveries(personas, env):
    configuration, _secret = notification(env)
    Delivery.objects.create(configuration=configuration, event="test")
    response = personas.admin.client.delete(f"{BASE}/{configuration.pk}")
    assert response.status_code == 204
    assert not NotificationConfiguration.objects.exists() and not Delivery.objects.exists()


def test_a_test_delivery_is_queued_after_the_request_commits(
    personas, env, django_capture_on_commit_callbacks
):
    configuration, _secret = notification(env)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = personas.admin.client.post(f"{BASE}/{configuration.pk}/test")
        assert not DBTaskResult.objects.exists()  # nothing is queued inside the request
    assert response.status_code == 202
    body = response.json()["delivery"]
    assert body["event"] == "test" and body["status"] == "pending" and body["attempts"] == []
    assert len(callbacks) == 1
    task = DBTaskResult.objects.get()
    assert task.queue_name == "notifications"
    assert task.args_kwargs == {"args": [body["id"]], "kwargs": {}}
    assert Delivery.objects.get().task_id == str(task.id)


def test_deliveries_list_their_attempts_newest_first(personas, env, django_assert_num_queries):
    configuration, _secret = notification(env)

    def add(count):
        for _ in range(count):
            delivery = Delivery.objects.create(configuration=configuration, event="test")
            for number in (1, 2):
                DeliveryAttempt.objects.create(
                    delivery=delivery, number=number, outcome="failed", status_code=500
                )

    add(1)
    url = f"{BASE}/{configuration.pk}/deliveries"
    personas.admin.client.get(url)  # the token's first use of the minute is recorded
    # token, environment with level, configuration, count, page, attempts
    with django_assert_num_queries(6):
        personas.admin.client.get(url)
    add(4)
    with django_assert_num_queries(6):
        response = personas.admin.client.get(url)
    body = response.json()
    assert body["meta"]["total"] == 5
    assert [a["number"] for a in body["deliveries"][0]["attempts"]] == [1, 2]
    assert body["deliveries"][0]["attempts"][0]["status_code"] == 500


def test_listing_configurations_takes_the_same_queries_for_one_or_many(
    personas, env, django_assert_num_queries
):
    notification(env)
    personas.admin.client.get(BASE)  # the token's first use of the minute is recorded
    # token, environment with level, count, page
    with django_assert_num_queries(4):
        personas.admin.client.get(BASE)
    for _ in range(4):
        notification(env, kind="slack", url="https://hooks.slack.com/services/T/B/x")
    with django_assert_num_queries(4):
        response = personas.admin.client.get(BASE)
    assert response.json()["meta"]["total"] == 5


def test_another_environments_configuration_is_not_found(personas, env):
    from .factories import environment

    other = environment("other")
    configuration, _secret = notification(other)
    response = personas.admin.client.get(f"{BASE}/{configuration.pk}")
    assert response.status_code == 404
    assert response.json() == {"errors": {"base": ["Not found."]}}


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [
        ("admin", 200, None),
        ("writer", 403, 403),
        ("reader", 403, 403),
        ("outsider", 404, 404),
        ("read_only_admin", 403, 403),  # URLs are credentials: admin level, not read
        ("anonymous", 401, 401),
    ],
)
def test_only_admins_see_and_change_notifications(personas, env, who, read, write):
    configuration, _secret = notification(env)
    if who == "anonymous":
        client = api_client()
    elif who == "read_only_admin":
        client = api_client(token_for(personas.admin.user, read_only=True))
    else:
        client = getattr(personas, who).client
    one = f"{BASE}/{configuration.pk}"
    for url in (BASE, one, f"{one}/deliveries"):
        assert client.get(url).status_code == read, url
    if write is None:
        return
    body = {"notification": {"kind": "webhook", "url": HOOK, "events": ["planned"]}}
    assert client.post(BASE, body, format="json").status_code == write
    assert client.patch(one, {"notification": {"enabled": False}}, format="json").status_code == (
        write
    )
    assert client.post(f"{one}/test").status_code == write
    assert client.delete(one).status_code == write
    assert NotificationConfiguration.objects.filter(pk=configuration.pk, enabled=True).exists()
    assert not Delivery.objects.exists()
