"""Teams of an organization and their members, under /api/v1/organizations/:org/teams.

Members of the organization read them; owners (admins) change them. The
rules are accounts.teams'.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import viewsets
from rest_framework.response import Response

from accounts import services, teams
from accounts.access import MEMBER, ORGANIZATION, rule
from accounts.models import Level
from atlas.api.envelopes import unwrap, validated
from atlas.api.exceptions import Unprocessable
from atlas.api.pagination import envelope_pagination

from . import serializers as s

TEAM_ENVELOPE = inline_serializer("TeamEnvelope", {"team": s.TeamDetailSerializer()})
TEAM_REQUEST = inline_serializer("TeamRequest", {"team": s.TeamWriteSerializer()})
TEAM_MEMBER_REQUEST = inline_serializer(
    "TeamMemberRequest", {"membership": s.TeamMemberSerializer()}
)
TEAM_MEMBER_ENVELOPE = inline_serializer(
    "TeamMemberEnvelope", {"membership": s.TeamMemberSerializer()}
)


def _team(organization, name):
    team = teams.find_team(organization, name)
    if team is None:
        raise Http404
    return team


def _detail(team):
    team.member_names = list(teams.members(team).values_list("username", flat=True))
    team.grant_list = list(teams.team_grants(team))
    return {"team": s.TeamDetailSerializer(team).data}


class TeamViewSet(viewsets.GenericViewSet):
    """The organization's teams, the owners team first; changes need an owner."""

    access_rule = rule(
        ORGANIZATION, GET=MEMBER, POST=Level.ADMIN, PATCH=Level.ADMIN, DELETE=Level.ADMIN
    )

    serializer_class = s.TeamSerializer
    pagination_class = envelope_pagination("teams")

    def list(self, request, name):
        organization = self.organization
        page = self.paginate_queryset(teams.organization_teams(organization))
        page = teams.with_member_names(page, organization)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=TEAM_REQUEST, responses={201: TEAM_ENVELOPE})
    def create(self, request, name):
        organization = self.organization
        data = validated(s.TeamWriteSerializer(data=unwrap(request.data, "team")))
        team = teams.create_team(organization, data["name"])
        return Response(_detail(team), status=201)

    @extend_schema(responses=TEAM_ENVELOPE)
    def retrieve(self, request, name, team):
        return Response(_detail(_team(self.organization, team)))

    @extend_schema(request=TEAM_REQUEST, responses=TEAM_ENVELOPE)
    def partial_update(self, request, name, team):
        organization = self.organization
        found = _team(organization, team)
        data = validated(s.TeamWriteSerializer(data=unwrap(request.data, "team")))
        teams.rename_team(found, data["name"])
        return Response(_detail(found))

    def destroy(self, request, name, team):
        organization = self.organization
        teams.delete_team(_team(organization, team))
        return Response(status=204)


class TeamMemberViewSet(viewsets.ViewSet):
    """Adding members of the organization to a team, and taking them out."""

    access_rule = rule(ORGANIZATION, POST=Level.ADMIN, DELETE=Level.ADMIN)

    @extend_schema(request=TEAM_MEMBER_REQUEST, responses={201: TEAM_MEMBER_ENVELOPE})
    def create(self, request, name, team):
        organization = self.organization
        found = _team(organization, team)
        data = validated(s.TeamMemberSerializer(data=unwrap(request.data, "membership")))
        user = services.find_user(data["username"])
        if user is None:
            raise Unprocessable({"username": ["no such user"]})
        teams.add_team_member(found, user)
        return Response({"membership": {"username": user.username}}, status=201)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, name, team, username):
        organization = self.organization
        found = _team(organization, team)
        user = services.find_user(username)
        if user is None or not teams.members(found).filter(pk=user.pk).exists():
            raise Http404
        teams.remove_team_member(found, user)
        return Response(status=204)
