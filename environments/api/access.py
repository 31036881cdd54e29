"""Who may use an environment: `/api/v1/environments/:username/:name/access`.

Grants of read, write or admin to a team of the environment's organization
or to one user. Anyone who can read the environment sees its grants; its
admins change them. The rules are accounts.teams'.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from accounts import services, teams
from accounts.access import rule
from accounts.models import Level
from atlas.api.envelopes import unwrap, validated

from ..lookup import ENVIRONMENT


class AccessLevelSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=Level.choices)


class TeamGrantSerializer(serializers.Serializer):
    team = serializers.CharField(source="team.name")
    level = serializers.CharField()


class UserGrantSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    level = serializers.CharField()


ACCESS_ENVELOPE = inline_serializer(
    "EnvironmentAccess",
    {
        "access": inline_serializer(
            "EnvironmentAccessLists",
            {
                "teams": TeamGrantSerializer(many=True),
                "users": UserGrantSerializer(many=True),
            },
        )
    },
)
LEVEL_REQUEST = inline_serializer("AccessRequest", {"access": AccessLevelSerializer()})


class AccessViewSet(viewsets.ViewSet):
    """The environment's grants; setting and removing them needs admin."""

    access_rule = rule(ENVIRONMENT, GET=Level.READ, PUT=Level.ADMIN, DELETE=Level.ADMIN)

    @extend_schema(responses=ACCESS_ENVELOPE)
    def list(self, request, username, name):
        team_grants, user_grants = teams.environment_grants(self.environment)
        return Response(
            {
                "access": {
                    "teams": TeamGrantSerializer(team_grants, many=True).data,
                    "users": UserGrantSerializer(user_grants, many=True).data,
                }
            }
        )

    def _team(self, environment, team):
        found = teams.team_for_environment(environment, team)
        if found is None:
            raise Http404
        return found

    def _user(self, username):
        user = services.find_user(username)
        if user is None:
            raise Http404
        return user

    def _set(self, request, environment, **who):
        data = validated(AccessLevelSerializer(data=unwrap(request.data, "access")))
        grant, created = teams.set_grant(environment, data["level"], **who)
        body = TeamGrantSerializer(grant) if grant.team_id else UserGrantSerializer(grant)
        return Response({"access": body.data}, status=201 if created else 200)

    @extend_schema(
        request=LEVEL_REQUEST,
        responses={
            200: inline_serializer("TeamGrantBody", {"access": TeamGrantSerializer()}),
            201: inline_serializer("TeamGrantCreated", {"access": TeamGrantSerializer()}),
        },
    )
    def put_team(self, request, username, name, team):
        environment = self.environment
        return self._set(request, environment, team=self._team(environment, team))

    @extend_schema(
        request=LEVEL_REQUEST,
        responses={
            200: inline_serializer("UserGrantBody", {"access": UserGrantSerializer()}),
            201: inline_serializer("UserGrantCreated", {"access": UserGrantSerializer()}),
        },
    )
    def put_user(self, request, username, name, grantee):
        environment = self.environment
        return self._set(request, environment, user=self._user(grantee))

    @extend_schema(request=None, responses={204: None})
    def delete_team(self, request, username, name, team):
        environment = self.environment
        grant = teams.team_grant(environment, self._team(environment, team))
        if grant is None:
            raise Http404
        teams.remove_grant(grant)
        return Response(status=204)

    @extend_schema(request=None, responses={204: None})
    def delete_user(self, request, username, name, grantee):
        environment = self.environment
        grant = teams.user_grant(environment, self._user(grantee))
        if grant is None:
            raise Http404
        teams.remove_grant(grant)
        return Response(status=204)
