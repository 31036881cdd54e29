"""The state pages: head, outputs, history, diff, download and rollback."""

import pytest
from django.test import Client

from accounts import tokens
from accounts.models import Token
from states import presentation
from states.models import EnvironmentState, StateVersion

from .factories import StateVersionFactory, state_bytes

PAGE = "/environments/acme/network/state"
SECRET = "s3cr3t-value-not-for-pages"


def signed_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def history(personas, network):
    """Serials 1..3; #3 adds an output, changes one, and adds a resource."""
    StateVersionFactory(
        environment=network, serial=1, user=personas.writer.user,
        outputs={"ip": "10.0.0.1", "password": (SECRET, True)},
        resources={"null_resource.a": {"id": "1", "triggers.v": "1"}},
    )  # fmt: skip
    StateVersionFactory(
        environment=network, serial=2, user=personas.writer.user,
        outputs={"ip": "10.0.0.1", "password": (SECRET, True)},
        resources={"null_resource.a": {"id": "1", "triggers.v": "1"}},
        indent=2,
    )  # fmt: skip
    StateVersionFactory(
        environment=network, serial=3, user=personas.admin.user,
        outputs={"ip": "10.0.0.9", "dns": "db.example", "password": (SECRET + "2", True)},
        resources={
            "null_resource.a": {"id": "1", "triggers.v": "2"},
            "null_resource.b": {"id": "2"},
        },
    )  # fmt: skip
    return network


def test_signing_in_is_required(history):
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert "/login" in response["Location"]


@pytest.mark.parametrize(
    "path",
    [
        PAGE,
        f"{PAGE}/diff?from=1&to=3",
        f"{PAGE}/versions/1/download",
        f"{PAGE}/versions/1/rollback",
    ],
)
def test_outsiders_get_404_on_every_page(personas, history, path):
    assert signed_in(personas.outsider.user).get(path).status_code == 404


def test_the_state_page_shows_head_outputs_and_history(personas, history):
    response = signed_in(personas.reader.user).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    head = EnvironmentState.objects.get(pk=history.pk).head
    assert 'data-testid="head-serial">#3<' in html
    assert head.lineage in html
    assert "10.0.0.9" in html and "db.example" in html
    assert SECRET not in html  # sensitive outputs are masked
    assert "sensitive" in html
    for serial in (1, 2, 3):
        assert f"#{serial}</strong>" in html
    assert "Roll back" not in html  # readers do not roll back
    assert f"{PAGE}/diff?from=2&amp;to=3" in html
    assert f"{PAGE}/versions/3/download" in html


def test_admins_see_rollback_for_every_version_but_the_head(personas, history):
    html = signed_in(personas.admin.user).get(PAGE).content.decode()
    assert f"{PAGE}/versions/1/rollback" in html
    assert f"{PAGE}/versions/2/rollback" in html
    assert f"{PAGE}/versions/3/rollback" not in html


def test_an_environment_without_state_explains_how_to_store_one(personas, network):
    html = signed_in(personas.reader.user).get(PAGE).content.decode()
    assert "No state stored yet" in html
    assert 'name    = "acme/network"' in html


def test_a_cleared_head_is_explained(personas, history):
    personas.admin.client.delete("/api/v1/terraform/state/acme/network")
    html = signed_in(personas.reader.user).get(PAGE).content.decode()
    assert "No current state" in html


def test_a_state_too_large_for_a_page_still_shows_its_metadata(personas, history, monkeypatch):
    monkeypatch.setattr(presentation, "PAGE_MAX_BYTES", 10)
    html = signed_in(personas.reader.user).get(PAGE).content.decode()
    assert "too large to show" in html
    assert "#3" in html


def test_the_diff_summarises_then_shows_the_json(personas, history):
    response = signed_in(personas.reader.user).get(f"{PAGE}/diff?from=2&to=3")
    assert response.status_code == 200
    html = response.content.decode()
    summary = html[html.index('data-testid="summary"') : html.index('data-testid="unified-diff"')]
    assert "+1 added" in summary and "~1 changed" in summary and "\u22120 removed" in summary
    assert "null_resource.b" in summary and "triggers.v" in summary
    assert "10.0.0.1" in summary and "10.0.0.9" in summary  # old and new output values
    assert "diff-add" in html and "diff-del" in html
    assert SECRET not in html


def test_reordered_json_shows_no_changes(personas, history):
    html = signed_in(personas.reader.user).get(f"{PAGE}/diff?from=1&to=2").content.decode()
    assert "no changes" in html


@pytest.mark.parametrize("query", ["", "?from=1", "?from=x&to=2", "?from=-1&to=2"])
def test_a_diff_needs_two_serials(personas, history, query):
    response = signed_in(personas.reader.user).get(f"{PAGE}/diff{query}")
    assert response.status_code == 400
    assert "Choose two serials" in response.content.decode()


def test_a_diff_with_a_missing_serial_is_404(personas, history):
    assert signed_in(personas.reader.user).get(f"{PAGE}/diff?from=1&to=9").status_code == 404


def test_download_gives_the_exact_bytes_as_a_file(personas, history):
    response = signed_in(personas.reader.user).get(f"{PAGE}/versions/2/download")
    assert response.status_code == 200
    version = StateVersion.objects.get(environment=history, serial=2)
    assert response.content == presentation.read_version(version)
    assert response["Content-Disposition"] == 'attachment; filename="acme-network-2.tfstate"'


def test_rollback_asks_for_the_serial_before_doing_anything(personas, history):
    client = signed_in(personas.admin.user)
    page = client.get(f"{PAGE}/versions/1/rollback")
    assert page.status_code == 200
    assert 'Type <strong class="mono">1</strong> to confirm' in page.content.decode()
    wrong = client.post(f"{PAGE}/versions/1/rollback", {"confirm": "3"})
    assert wrong.status_code == 400
    assert "Type 1 to confirm" in wrong.content.decode()
    assert EnvironmentState.objects.get(pk=history.pk).head.serial == 3


def test_a_confirmed_rollback_makes_a_new_head(personas, history):
    client = signed_in(personas.admin.user)
    response = client.post(f"{PAGE}/versions/1/rollback", {"confirm": " 1 "}, follow=True)
    assert response.redirect_chain[-1][0] == PAGE
    assert "now the head as serial 4" in response.content.decode()
    head = EnvironmentState.objects.get(pk=history.pk).head
    assert (head.serial, head.source, head.rolled_back_from.serial) == (4, "rollback", 1)
    assert head.created_by == personas.admin.user
    assert head.token is None


@pytest.mark.parametrize("role", ["reader", "writer"])
def test_only_admins_reach_the_rollback_page(personas, history, role):
    client = signed_in(getattr(personas, role).user)
    assert client.get(f"{PAGE}/versions/1/rollback").status_code == 403
    assert client.post(f"{PAGE}/versions/1/rollback", {"confirm": "1"}).status_code == 403
    assert StateVersion.objects.count() == 3


def test_rollback_needs_the_csrf_token(personas, history):
    client = signed_in(personas.admin.user, enforce_csrf_checks=True)
    assert client.post(f"{PAGE}/versions/1/rollback", {"confirm": "1"}).status_code == 403
    assert StateVersion.objects.count() == 3


def test_a_state_without_outputs_says_so(personas, network):
    StateVersionFactory(environment=network, serial=1, body=state_bytes(serial=1))
    assert "has no outputs" in signed_in(personas.reader.user).get(PAGE).content.decode()


def test_a_version_a_run_wrote_links_the_run_and_names_who_confirmed_it(personas, network):
    from accounts.tests.factories import UserFactory
    from runs.models import Run
    from runs.tests.factories import RunFactory, finished_version

    confirmer = UserFactory(username="carol")
    run = RunFactory(
        environment=network,
        configuration_version=finished_version(network),
        status="applied",
        created_by=personas.writer.user,
    )
    Run.objects.filter(pk=run.pk).update(confirmed_by=confirmer, confirmed_at=run.created_at)
    token, _text = tokens.issue(personas.writer.user, kind=Token.Kind.RUN)
    Token.objects.filter(pk=token.pk).update(scope_run_id=run.pk)
    version = StateVersionFactory(environment=network, serial=1, user=personas.writer.user)
    StateVersion.objects.filter(pk=version.pk).update(token=token, run_id=str(run.pk))

    page = signed_in(personas.reader.user).get(PAGE).content.decode()
    link = f'in <a href="/environments/acme/network/runs/{run.pk}">run #{run.pk}</a>'
    assert link in page
    assert 'confirmed by <strong data-testid="confirmed-by">carol</strong>' in page
    assert 'id="serial-1"' in page
    run_page = signed_in(personas.reader.user).get(f"/environments/acme/network/runs/{run.pk}")
    assert f'href="{PAGE}#serial-1">#1</a>' in run_page.content.decode()


def test_readers_are_warned_before_downloading_raw_state(personas, history):
    warning = 'data-confirm="The raw state holds every value in clear text'
    assert warning in signed_in(personas.reader.user).get(PAGE).content.decode()
    assert warning not in signed_in(personas.writer.user).get(PAGE).content.decode()
    assert (
        "sensitive outputs and resource attributes included"
        in signed_in(personas.writer.user).get(PAGE).content.decode()
    )
