"""The runs web pages: list, run page, live fragments, and the forms."""

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD
from runs.logs import append_text
from runs.models import Run, Status

from .factories import RunFactory, finished_version

pytestmark = pytest.mark.django_db

BASE = "/environments/acme/app/runs"


def browser(persona):
    client = Client()
    assert client.login(username=persona.user.username, password=PASSWORD)
    return client


def _run(env, status=Status.PLANNED):
    return RunFactory(environment=env, configuration_version=finished_version(env), status=status)


@pytest.mark.parametrize(
    ("who", "expected"), [("admin", 200), ("writer", 200), ("reader", 200), ("outsider", 404)]
)
def test_the_runs_pages_need_read_access(personas, env, who, expected):
    run = _run(env)
    client = browser(getattr(personas, who))
    for url in (BASE, f"{BASE}/{run.pk}", f"{BASE}/{run.pk}/live", f"{BASE}/{run.pk}/logs/plan"):
        assert client.get(url).status_code == expected, url


def test_signed_out_visitors_are_sent_to_sign_in(env, personas):
    response = Client().get(BASE)
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_list_shows_runs_and_the_queue_buttons_to_writers_only(personas, env):
    run = _run(env, Status.ERRORED)
    page = browser(personas.writer).get(BASE).content.decode()
    assert f"#{run.pk}" in page
    assert "Queue plan" in page and "Queue destroy plan" in page
    reader_page = browser(personas.reader).get(BASE).content.decode()
    assert f"#{run.pk}" in reader_page
    assert "Queue plan" not in reader_page


def test_a_planned_run_page_offers_confirm_and_discard_to_writers(personas, env):
    run = _run(env, Status.PLANNED)
    append_text(run, "plan", "Plan: 1 to add, 0 to change, 0 to destroy.\n")
    page = browser(personas.writer).get(f"{BASE}/{run.pk}").content.decode()
    assert "Confirm &amp; apply" in page and "Discard" in page
    assert "Plan: 1 to add" in page
    assert 'hx-trigger="every 2s"' in page
    reader_page = browser(personas.reader).get(f"{BASE}/{run.pk}").content.decode()
    assert "Confirm &amp; apply" not in reader_page


def test_a_finished_run_page_stops_polling(personas, env):
    run = _run(env, Status.APPLIED)
    page = browser(personas.reader).get(f"{BASE}/{run.pk}").content.decode()
    assert "hx-trigger" not in page
    assert "Cancel run" not in page


def test_the_log_fragment_returns_what_follows_the_offset_and_the_next_poller(personas, env):
    run = _run(env, Status.PLANNING)
    append_text(run, "plan", "one\n<two>\n")
    client = browser(personas.reader)
    body = client.get(f"{BASE}/{run.pk}/logs/plan", {"offset": 4}).content.decode()
    assert body.startswith("&lt;two&gt;\n")
    assert "logs/plan?offset=10" in body
    assert client.get(f"{BASE}/{run.pk}/logs/nope").status_code == 404


def test_confirm_discard_and_cancel_forms_act_and_return_to_the_run(personas, env):
    client = browser(personas.writer)
    planned = _run(env, Status.PLANNED)
    response = client.post(f"{BASE}/{planned.pk}/confirm")
    assert response.status_code == 302 and response["Location"].endswith(f"/runs/{planned.pk}")
    assert Run.objects.get(pk=planned.pk).status == Status.CONFIRMED
    other = _run(env, Status.PLANNED)
    client.post(f"{BASE}/{other.pk}/discard")
    assert Run.objects.get(pk=other.pk).status == Status.DISCARDED
    pending = _run(env, Status.PENDING)
    client.post(f"{BASE}/{pending.pk}/cancel")
    assert Run.objects.get(pk=pending.pk).status == Status.CANCELED


def test_an_action_the_status_forbids_shows_why(personas, env):
    run = _run(env, Status.APPLIED)
    response = browser(personas.writer).post(f"{BASE}/{run.pk}/confirm", follow=True)
    assert "Cannot confirm a run that is applied." in response.content.decode()
    assert Run.objects.get(pk=run.pk).status == Status.APPLIED


def test_readers_cannot_act(personas, env):
    run = _run(env, Status.PLANNED)
    assert browser(personas.reader).post(f"{BASE}/{run.pk}/confirm").status_code == 403
    assert Run.objects.get(pk=run.pk).status == Status.PLANNED


def test_queue_plan_starts_a_run(personas, env, version):
    response = browser(personas.writer).post(f"{BASE}/queue")
    run = Run.objects.get()
    assert response["Location"].endswith(f"/runs/{run.pk}")
    assert run.destroy is False and run.created_by == personas.writer.user


def test_a_destroy_plan_needs_the_environments_full_name_typed_and_keeps_a_wrong_one(
    personas, env, version
):
    client = browser(personas.writer)
    for typed in ("wrong", "app"):
        response = client.post("/environments/acme/app/runs/destroy", {"confirm_name": typed})
        assert response.status_code == 400
        page = response.content.decode()
        assert f'value="{typed}"' in page
        assert "Type acme/app exactly to queue a destroy plan." in page
    assert not Run.objects.exists()
    response = client.post("/environments/acme/app/runs/destroy", {"confirm_name": "acme/app"})
    run = Run.objects.get()
    assert run.destroy is True
    assert response["Location"].endswith(f"/runs/{run.pk}")


def test_queue_plan_never_queues_a_destroy_plan(personas, env, version):
    browser(personas.writer).post(f"{BASE}/queue", {"destroy": "true"})
    assert Run.objects.get().destroy is False


def test_queueing_without_a_configuration_says_so(personas, env):
    response = browser(personas.writer).post(f"{BASE}/queue", follow=True)
    assert "push a configuration first" in response.content.decode()
    assert not Run.objects.exists()
