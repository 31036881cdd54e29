"""Fixtures of the project-wide browser tests: one of everything to show,
and the list of our own pages (every test that visits every page uses it)."""

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from accounts import invitations, twofactor
from accounts.models import Invitation, Level
from accounts.tests.factories import UserFactory, enrol, member, organization
from environments.tests.factories import ConfigurationVersionFactory, VariableFactory
from runs.logs import append_text
from runs.models import Status
from runs.tests.factories import RunFactory, finished_version, notification
from runs.tests.factories import environment as run_environment
from states.tests.factories import StateVersionFactory, environment


@pytest.fixture
def close_connections():
    """While Playwright's loop runs, the test's queries get a connection of
    their own context: close it here, or it outlives the test database."""
    yield
    connections.close_all()


@pytest.fixture
def world(settings):
    """ada (superuser, admin of acme) and one of everything to show."""
    settings.ATLAS_SUDO_SECONDS = 0  # the password page shows up too
    ada = UserFactory(username="ada", is_staff=True, is_superuser=True)
    acme = organization("acme", ada)
    member(acme, UserFactory(username="bob"), Level.WRITE)
    network = environment("acme", "network")
    for serial in (1, 2):
        StateVersionFactory(environment=network, serial=serial, outputs={"ip": f"10.0.0.{serial}"})
    variable = VariableFactory(environment=network, key="region", value="eu")
    ConfigurationVersionFactory(environment=network)
    app = run_environment("app")
    run = RunFactory(
        environment=app, configuration_version=finished_version(app), status=Status.PLANNED
    )
    append_text(run.pk, "plan", "Plan: 1 to add, 0 to change, 0 to destroy.\n")
    failed = RunFactory(
        environment=network,
        configuration_version=finished_version(network),
        status=Status.ERRORED,
        message="terraform plan failed (exit status 1).",
        planning_at=timezone.now(),
        errored_at=timezone.now(),
        error_text='Error: Unsupported argument\n\n  on main.tf line 3, in resource "x":',
    )
    append_text(failed.pk, "plan", "Error: Unsupported argument\n")
    Group.objects.create(name="operators")
    integration, _secret = notification(network)
    settings.ATLAS_OPEN_SIGNUP = True
    twofactor.start_enrolment(ada)  # the two-factor page shows its QR code
    carl = UserFactory(username="carl")
    enrol(carl)  # signs in with a code
    invitation = invitations.invite(acme, ada, email="dee@example.com")
    secret = "a-secret-of-the-link"
    Invitation.objects.filter(pk=invitation.pk).update(
        digest=invitations._digest(secret, invitation.key_id)
    )
    return {
        "ada": ada,
        "variable": variable,
        "run": run,
        "failed": failed,
        "integration": integration,
        "invitation_link": invitations.link_path(invitation, secret),
    }


def own_pages(world):
    """Every page of ours that a signed-in admin (ada) sees, as paths."""
    env = "/environments/acme/network"
    return [
        "/",
        "/settings/tokens",
        "/settings/organizations",
        "/organizations/acme",
        "/environments",
        env,
        f"{env}/variables",
        f"{env}/variables/{world['variable'].pk}/edit",
        f"{env}/versions",
        f"{env}/settings",
        f"{env}/state",
        f"{env}/state/diff?from=1&to=2",
        f"{env}/state/versions/1/rollback",
        f"{env}/integrations",
        f"{env}/integrations/{world['integration'].pk}",
        f"{env}/access",
        f"{env}/runs/{world['failed'].pk}",
        "/environments/acme/app",
        "/environments/acme/app/runs",
        f"/environments/acme/app/runs/{world['run'].pk}",
        "/environments/acme/app/runs/destroy",
        "/terraform-login/authorize?client_id=terraform-cli&response_type=code"
        "&code_challenge=x&code_challenge_method=S256&state=s"
        "&redirect_uri=http%3A%2F%2Flocalhost%3A10000%2Flogin",
        "/organizations/acme/teams",
        "/organizations/acme/teams/owners",
        "/organizations/acme/audit",
        "/settings/account",
        "/settings/two-factor",
        "/invitations",
        email_confirmation(world["ada"]),
    ]


def email_confirmation(user):
    """The link that confirms a new email address, as its email carries it."""
    from django.core import signing

    from accounts.pages.account import EMAIL_SALT

    token = signing.dumps(
        {"user": user.pk, "email": "ada@new.example", "old": user.email}, salt=EMAIL_SALT
    )
    return reverse("accounts:email-confirm", kwargs={"token": token})
