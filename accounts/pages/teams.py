"""An organization's teams: members see them, owners change them."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from .. import services, teams
from ..access import MEMBER, ORGANIZATION, guard, rule
from ..forms import TeamForm, TeamMemberForm, add_service_errors, sentence
from ..models import Level
from ..privileges import is_owner


def _flash_errors(request, exc):
    for text in exc.messages:
        messages.error(request, sentence(text))


def _teams_page(request, organization, level, form=None):
    context = {
        "organization": organization,
        "level": level,
        "is_admin": is_owner(level),
        "teams": teams.teams_with_members(organization),
        "form": form or TeamForm(),
        "tab": "teams",
    }
    return render(request, "accounts/teams.html", context)


@guard(rule(ORGANIZATION, GET=MEMBER))
def team_list(request, organization, level):
    return _teams_page(request, organization, level)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def team_create(request, organization, level):
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team = teams.create_team(organization, form.cleaned_data["name"])
        except ValidationError as exc:
            add_service_errors(form, exc, "name")
        else:
            messages.success(request, f"Team {team.name} created.")
            return redirect("accounts:team", name=organization.name, team=team.name)
    return _teams_page(request, organization, level, form)


def _team(organization, name):
    team = teams.find_team(organization, name)
    if team is None:
        raise Http404
    return team


def _candidates(organization, team):
    """Members of the organization who are not in the team yet."""
    inside = teams.members(team).values("pk")
    return list(
        organization.memberships.exclude(user__in=inside)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )


@guard(rule(ORGANIZATION, GET=MEMBER))
def team_detail(request, organization, level, team):
    found = _team(organization, team)
    owner = is_owner(level)
    context = {
        "organization": organization,
        "level": level,
        "is_admin": owner,
        "team": found,
        "members": teams.members(found),
        "grants": teams.team_grants(found),
        "member_form": TeamMemberForm(candidates=_candidates(organization, found))
        if owner
        else None,
        "rename_form": TeamForm(initial={"name": found.name}),
        "tab": "teams",
    }
    return render(request, "accounts/team.html", context)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def team_member_add(request, organization, level, team):
    found = _team(organization, team)
    form = TeamMemberForm(request.POST, candidates=_candidates(organization, found))
    if not form.is_valid():
        messages.error(request, "Choose a member of the organization who is not in the team.")
    else:
        user = services.find_user(form.cleaned_data["username"])
        try:
            teams.add_team_member(found, user)
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(request, f"{user.username} added to {found.name}.")
    return redirect("accounts:team", name=organization.name, team=found.name)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def team_member_remove(request, organization, level, team, username):
    found = _team(organization, team)
    user = services.find_user(username)
    if user is None:
        raise Http404
    try:
        teams.remove_team_member(found, user)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, f"{user.username} removed from {found.name}.")
    return redirect("accounts:team", name=organization.name, team=found.name)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def team_rename(request, organization, level, team):
    found = _team(organization, team)
    form = TeamForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the team a name.")
    else:
        try:
            teams.rename_team(found, form.cleaned_data["name"])
        except ValidationError as exc:
            _flash_errors(request, exc)
            return redirect("accounts:team", name=organization.name, team=team)
        messages.success(request, f"Team renamed to {found.name}.")
    return redirect("accounts:team", name=organization.name, team=found.name)


@guard(rule(ORGANIZATION, POST=Level.ADMIN))
def team_delete(request, organization, level, team):
    found = _team(organization, team)
    try:
        teams.delete_team(found)
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("accounts:team", name=organization.name, team=found.name)
    messages.success(request, f"Team {found.name} deleted.")
    return redirect("accounts:teams", name=organization.name)
