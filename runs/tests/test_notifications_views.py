"""The Integrations tab: admins only; add, change, test and delete through
the same rules as the API; the secret shown once; deliveries listed."""

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD
from runs.models import Delivery, DeliveryAttempt, NotificationConfiguration

from .factories import notification

pytestmark = pytest.mark.django_db

BASE = "/environments/acme/app/integrations"


def browser(persona, **kwargs):
    client = Client(**kwargs)
    assert client.login(username=persona.user.username, password=PASSWORD)
    return client


@pytest.mark.parametrize(
    ("who", "expected"), [("admin", 200), ("writer", 403), ("reader", 403), ("outsider", 404)]
)
def test_the_tab_is_for_admins(personas, env, who, expected):
    configuration, _secret = notification(env)
    client = browser(getattr(personas, who))
    one = f"{BASE}/{configuration.pk}"
    for url in (BASE, one, f"{one}/deliveries"):
        assert client.get(url).status_code == expected, url
    if who == "admin":
        return
    for url in (f"{BASE}/new", f"{one}/edit", f"{one}/test", f"{one}/delete"):
        assert client.post(url, {"events": ["applied"]}).status_code == expected, url
    assert NotificationConfiguration.objects.get().events == ["planned", "errored"]
    assert not Delivery.objects.exists()


def test_only_admins_see_the_integrations_tab(personas, env):
    overview = "/environments/acme/app"
    assert f'href="{BASE}"' in browser(personas.admin).get(overview).content.decode()
    assert f'href="{BASE}"' not in browser(personas.writer).get(overview).content.decode()
    state = "/environments/acme/app/state"
    assert f'href="{BASE}"' in browser(personas.admin).get(state).content.decode()


def test_adding_a_webhook_shows_its_secret_once(personas, env):
    client = browser(personas.admin)
    response = client.post(
        f"{BASE}/new",
        {"kind": "webhook", "url": "https://hooks.example.com/a", "events": ["planned", "applied"]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    configuration = NotificationConfiguration.objects.get()
    page = response.content.decode()
    assert "Signing secret: copy it now" in page
    assert configuration.secret in page
    assert configuration.events == ["planned", "applied"] and configuration.enabled is False
    again = client.get(f"{BASE}/{configuration.pk}").content.decode()
    assert configuration.secret not in again and "copy it now" not in again


def test_adding_an_email_notification_goes_to_its_page(personas, env):
    response = browser(personas.admin).post(
        f"{BASE}/new",
        {
            "kind": "email",
            "recipients": "reader,\nops@example.com",
            "events": ["errored"],
            "enabled": "on",
        },
    )
    configuration = NotificationConfiguration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}/{configuration.pk}"
    assert configuration.recipients == ["reader", "ops@example.com"] and configuration.enabled


def test_a_refused_url_comes_back_as_a_form_error(personas, env):
    response = browser(personas.admin).post(
        f"{BASE}/new",
        {
            "kind": "webhook",
            "url": "http://169.254.169.254/",
            "events": ["planned"],
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "points to 169.254.169.254, a link-local address" in response.content.decode()
    assert not NotificationConfiguration.objects.exists()


def test_changing_keeps_the_url_when_left_empty(personas, env):
    configuration, _secret = notification(env, url="https://hooks.example.com/keep?token=t")
    client = browser(personas.admin)
    page = client.get(f"{BASE}/{configuration.pk}").content.decode()
    assert "token=t" not in page and "token=****" in page
    response = client.post(
        f"{BASE}/{configuration.pk}/edit", {"url": "", "events": ["errored"], "enabled": ""}
    )
    assert response.status_code == 302
    configuration.refresh_from_db()
    assert configuration.url == "https://hooks.example.com/keep?token=t"
    assert configuration.events == ["errored"] and not configuration.enabled


def test_send_a_test_queues_a_delivery_and_delete_removes_it_all(personas, env):
    configuration, _secret = notification(env)
    client = browser(personas.admin)
    response = client.post(f"{BASE}/{configuration.pk}/test")
    assert response.status_code == 302
    delivery = Delivery.objects.get()
    assert delivery.event == "test" and delivery.status == "pending"
    page = client.get(f"{BASE}/{configuration.pk}").content.decode()
    assert 'hx-trigger="every 2s"' in page  # refreshes while it is on its way
    assert client.post(f"{BASE}/{configuration.pk}/delete").status_code == 302
    assert not NotificationConfiguration.objects.exists() and not Delivery.objects.exists()


def test_forms_need_the_csrf_token(personas, env):
    configuration, _secret = notification(env)
    client = browser(personas.admin, enforce_csrf_checks=True)
    assert client.post(f"{BASE}/{configuration.pk}/test").status_code == 403
    assert not Delivery.objects.exists()


def test_the_deliveries_table_takes_the_same_queries_for_one_or_many(
    personas, env, django_assert_num_queries
):
    configuration, _secret = notification(env)
    client = browser(personas.admin)

    def add(count):
        for _ in range(count):
            delivery = Delivery.objects.create(
                configuration=configuration, event="test", status="failed"
            )
            for number in (1, 2):
                DeliveryAttempt.objects.create(
                    delivery=delivery, number=number, outcome="failed", status_code=500
                )

    url = f"{BASE}/{configuration.pk}/deliveries"
    add(1)
    client.get(url)
    with django_assert_num_queries(7) as one:
        client.get(url)
    add(9)
    with django_assert_num_queries(len(one.captured_queries)):
        page = client.get(url).content.decode()
    assert page.count("data-delivery=") == 10
    assert "HTTP 500" in page and "every 2s" not in page
