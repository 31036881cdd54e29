"""The Access tab: which teams and users hold which level on the environment.

Anyone who reads the environment sees it; its admins change it. The rules
are accounts.teams' (the same functions the API calls).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from accounts import services, teams
from accounts.access import guard, rule
from accounts.forms import GrantLevelForm, GrantTeamForm, GrantUserForm, sentence
from accounts.models import Level, Team

from ..lookup import ENVIRONMENT, page_context
from .common import environment_url


def _free_teams(environment, team_grants):
    """Teams of the environment's organization without a grant here (owners aside)."""
    granted = {grant.team_id for grant in team_grants}
    return [
        team.name
        for team in Team.objects.filter(
            organization__namespace_id=environment.namespace_id, owners=False
        ).order_by("name")
        if team.pk not in granted
    ]


def render_access(request, environment, level, team_form=None, user_form=None):
    context = page_context(environment, level)
    team_grants, user_grants = teams.environment_grants(environment)
    free = _free_teams(environment, team_grants) if environment.namespace.is_organization else []
    context.update(
        {
            "tab": "access",
            "team_grants": team_grants,
            "user_grants": user_grants,
            "levels": Level.choices,
            "is_organization": environment.namespace.is_organization,
            "team_form": team_form or GrantTeamForm(teams=free),
            "user_form": user_form or GrantUserForm(),
        }
    )
    return render(request, "environments/access.html", context)


@guard(rule(ENVIRONMENT, GET=Level.READ))
def access(request, environment, level):
    return render_access(request, environment, level)


def _flash(request, exc):
    for text in exc.messages:
        messages.error(request, sentence(text))


def _done(request, grant, created):
    who = f"Team {grant.team.name}" if grant.team_id else grant.user.username
    verb = "now has" if created else "has"
    messages.success(request, f"{who} {verb} {grant.level} access.")


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def grant_team(request, environment, level):
    team_grants, _users = teams.environment_grants(environment)
    form = GrantTeamForm(request.POST, teams=_free_teams(environment, team_grants))
    if form.is_valid():
        team = teams.team_for_environment(environment, form.cleaned_data["team"])
        try:
            grant, created = teams.set_grant(environment, form.cleaned_data["level"], team=team)
        except ValidationError as exc:
            form.add_error("team", sentence(" ".join(exc.messages)))
        else:
            _done(request, grant, created)
            return redirect(environment_url(environment, "access"))
    return render_access(request, environment, level, team_form=form)


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def grant_user(request, environment, level):
    form = GrantUserForm(request.POST)
    if form.is_valid():
        user = services.find_user(form.cleaned_data["username"])
        if user is None:
            form.add_error("username", "There is no user with that name.")
        else:
            try:
                grant, created = teams.set_grant(environment, form.cleaned_data["level"], user=user)
            except ValidationError as exc:
                form.add_error("username", sentence(" ".join(exc.messages)))
            else:
                _done(request, grant, created)
                return redirect(environment_url(environment, "access"))
    return render_access(request, environment, level, user_form=form)


def _grant(environment, kind, who):
    if kind not in ("teams", "users"):
        raise Http404
    team_grants, user_grants = teams.environment_grants(environment)
    if kind == "teams":
        found = [g for g in team_grants if g.team.name.lower() == who.lower()]
    else:
        found = [g for g in user_grants if g.user.username.lower() == who.lower()]
    if not found:
        raise Http404
    return found[0]


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def grant_level(request, environment, level, kind, who):
    grant = _grant(environment, kind, who)
    form = GrantLevelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose read, write or admin.")
    else:
        try:
            who_args = {"team": grant.team} if grant.team_id else {"user": grant.user}
            grant, _created = teams.set_grant(environment, form.cleaned_data["level"], **who_args)
        except ValidationError as exc:
            _flash(request, exc)
        else:
            _done(request, grant, False)
    return redirect(environment_url(environment, "access"))


@guard(rule(ENVIRONMENT, POST=Level.ADMIN))
def grant_remove(request, environment, level, kind, who):
    grant = _grant(environment, kind, who)
    label = f"Team {grant.team.name}" if grant.team_id else grant.user.username
    teams.remove_grant(grant)
    messages.success(request, f"{label} no longer has access of its own to {environment.slug}.")
    return redirect(environment_url(environment, "access"))
