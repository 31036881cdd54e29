"""The runs web pages: list, run page, live fragments, and the forms."""

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD
from runs.logs import append_text
from runs.models import Run, Status
from runs.queue import queue_run

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


TERRAFORM_LINE = "aws_instance.web[{}]: Refreshing state... (ID: i-0123456789abcdef{})\n"


def test_the_page_of_a_run_with_a_2_mb_log_weighs_under_200_kb(personas, env):
    run = _run(env, Status.ERRORED)
    lines = [TERRAFORM_LINE.format(n, n % 10) for n in range(30_000)]
    append_text(run, "plan", "".join(lines) + "Error: the last line\n")
    assert sum(len(line) for line in lines) > 2_000_000
    client = browser(personas.reader)

    response = client.get(f"{BASE}/{run.pk}")
    assert response.status_code == 200
    assert len(response.content) < 200_000
    page = response.content.decode()
    assert "Error: the last line" in page and "web[29999]" in page  # the end is there
    assert "web[0]:" not in page  # the beginning is a link away
    assert f"{BASE}/{run.pk}/logs/plan/raw" in page

    raw = client.get(f"{BASE}/{run.pk}/logs/plan/raw")
    body = b"".join(raw.streaming_content).decode()
    assert body.startswith(TERRAFORM_LINE.format(0, 0)) and body.endswith("Error: the last line\n")
    assert "Content-Disposition" not in raw
    download = client.get(f"{BASE}/{run.pk}/logs/plan/raw?download")
    assert (
        download["Content-Disposition"] == f'attachment; filename="acme-app-run-{run.pk}-plan.log"'
    )


def test_pages_are_compressed_and_the_api_is_not(personas, env):
    run = _run(env, Status.ERRORED)
    append_text(run, "plan", "".join(TERRAFORM_LINE.format(n, 1) for n in range(3000)))
    client = browser(personas.reader)
    page = client.get(f"{BASE}/{run.pk}", HTTP_ACCEPT_ENCODING="gzip")
    assert page["Content-Encoding"] == "gzip"
    assert len(page.content) < 20_000
    api = personas.reader.client.get(
        f"/api/v1/runs/{run.pk}/logs/plan", HTTP_ACCEPT_ENCODING="gzip"
    )
    assert api.status_code == 200 and "Content-Encoding" not in api
    download = client.get(f"{BASE}/{run.pk}/logs/plan/raw?download", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in download


def test_a_plan_waiting_for_confirmation_polls_neither_log_and_shows_no_apply_log(personas, env):
    run = _run(env, Status.PLANNED)
    append_text(run, "plan", "Plan: 1 to add, 0 to change, 0 to destroy.\n")
    client = browser(personas.writer)
    page = client.get(f"{BASE}/{run.pk}").content.decode()
    assert "logs/plan?offset" not in page and "logs/apply" not in page
    assert 'id="apply-log"' not in page
    assert "Waiting for confirmation." in page
    assert '<p class="run-summary" data-log-summary>Plan: 1 to add' in page
    assert f"{BASE}/{run.pk}/live?shown=planned" in page  # the status still is followed
    fragment = client.get(f"{BASE}/{run.pk}/logs/plan", {"offset": 0}).content.decode()
    assert "hx-get" not in fragment


def test_a_confirmed_run_shows_its_apply_log_and_polls_it(personas, env):
    run = _run(env, Status.APPLYING)
    Run.objects.filter(pk=run.pk).update(confirmed_at=run.created_at)
    page = browser(personas.reader).get(f"{BASE}/{run.pk}").content.decode()
    assert 'id="apply-log"' in page and "logs/apply?offset=0" in page
    assert "logs/plan?offset" not in page


def test_the_live_panel_brings_the_header_and_settled_logs_when_the_status_changed(personas, env):
    run = _run(env, Status.CONFIRMED)
    Run.objects.filter(pk=run.pk).update(confirmed_at=run.created_at)
    client = browser(personas.reader)
    same = client.get(f"{BASE}/{run.pk}/live", {"shown": "confirmed"}).content.decode()
    assert "hx-swap-oob" not in same
    changed = client.get(f"{BASE}/{run.pk}/live", {"shown": "planned"}).content.decode()
    assert 'id="environment-state" hx-swap-oob="true"' in changed
    assert 'id="apply-log-section"' in changed and 'id="plan-log-section"' in changed
    still = client.get(f"{BASE}/{run.pk}/live", {"shown": "planning"}).content.decode()
    assert 'id="plan-log-section"' not in still  # its own poller brings the rest


def test_the_header_links_the_run_holding_the_lock(personas, env, version):
    run = queue_run(env, personas.writer.user)
    page = browser(personas.reader).get(BASE).content.decode()
    assert f'<a href="{BASE}/{run.pk}">run #{run.pk}</a>' in page


def test_confirm_and_discard_say_what_they_did_and_may_return_to_the_overview(personas, env):
    client = browser(personas.writer)
    planned = _run(env, Status.PLANNED)
    response = client.post(
        f"{BASE}/{planned.pk}/confirm", {"next": "/environments/acme/app"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/environments/acme/app"
    assert f"Run #{planned.pk} confirmed: the apply is queued." in response.content.decode()
    other = _run(env, Status.PLANNED)
    response = client.post(
        f"{BASE}/{other.pk}/discard", {"next": "https://evil.example/"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"{BASE}/{other.pk}"
    assert f"Run #{other.pk} discarded." in response.content.decode()


def test_queue_plan_is_offered_only_once_something_was_pushed(personas, env):
    client = browser(personas.writer)
    for url in (BASE, "/environments/acme/app"):
        page = client.get(url).content.decode()
        assert "Queue plan" not in page and "Nothing to run yet" in page
    finished_version(env)
    for url in (BASE, "/environments/acme/app"):
        page = client.get(url).content.decode()
        assert "Queue plan" in page and "Queue destroy plan" in page


def test_the_overviews_latest_run_card_shows_the_error_and_waits_for_confirmation(personas, env):
    failed = _run(env, Status.ERRORED)
    Run.objects.filter(pk=failed.pk).update(
        message="terraform plan failed (exit status 1).",
        error_text="Error: Unsupported argument\n\n  on main.tf line 3:\n   3:   foo = 1\n\nMore.",
    )
    client = browser(personas.writer)
    card = client.get("/environments/acme/app/runs/latest").content.decode()
    assert "Error: Unsupported argument\non main.tf line 3:\n3:   foo = 1" in card
    assert 'hx-trigger="every 10s"' in card  # nothing running: now and then
    assert 'id="lock-card" aria-labelledby="lock-title" hx-swap-oob="true"' in card
    waiting = _run(env, Status.PLANNED)
    card = client.get("/environments/acme/app/runs/latest").content.decode()
    assert f"Run #{waiting.pk}" in card and "Waiting for confirmation." in card
    assert f"{BASE}/{waiting.pk}/confirm" in card and 'hx-trigger="every 3s"' in card
    assert (
        "/confirm"
        not in browser(personas.reader).get("/environments/acme/app/runs/latest").content.decode()
    )


def test_a_get_to_an_action_goes_to_its_page(personas, env):
    run = _run(env, Status.PLANNED)
    client = browser(personas.writer)
    for url, page in [
        (f"{BASE}/{run.pk}/confirm", f"{BASE}/{run.pk}"),
        (f"{BASE}/queue", BASE),
        ("/environments/acme/app/settings/delete", "/environments/acme/app/settings"),
        ("/environments/acme/app/variables/7/delete", "/environments/acme/app/variables"),
        ("/environments/new", "/environments"),
        ("/settings/password", "/settings"),
    ]:
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, page), url
    assert Run.objects.get(pk=run.pk).status == Status.PLANNED
    assert client.get("/settings", follow=True).redirect_chain[-1][0] == "/settings/account"
    assert personas.writer.client.get(f"/api/v1/runs/{run.pk}/actions/confirm").status_code == 405
