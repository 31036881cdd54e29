"""Invitations under /api/v1: an organization's (owners), and the caller's own.

The rules are accounts.invitations'. Someone else's invitation is a 404;
one already answered, revoked or expired is a 409.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import viewsets
from rest_framework.response import Response

from accounts import invitations
from accounts.access import ORGANIZATION, SIGNED_IN, rule
from accounts.models import Level
from atlas.api.envelopes import unwrap, validated
from atlas.api.exceptions import Conflict
from atlas.api.pagination import envelope_pagination

from . import serializers as s

INVITATION_ENVELOPE = inline_serializer("InvitationBody", {"invitation": s.InvitationSerializer()})


class OrganizationInvitationViewSet(viewsets.GenericViewSet):
    """An organization's pending invitations; create and revoke them (owners)."""

    access_rule = rule(ORGANIZATION, GET=Level.ADMIN, POST=Level.ADMIN, DELETE=Level.ADMIN)

    serializer_class = s.InvitationSerializer
    pagination_class = envelope_pagination("invitations")

    def list(self, request, name):
        organization = self.organization
        pending = invitations.pending_for_organization(organization).select_related(
            "organization__namespace"
        )
        page = self.paginate_queryset(pending)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=inline_serializer(
            "InvitationCreateRequest", {"invitation": s.InvitationCreateSerializer()}
        ),
        responses={201: INVITATION_ENVELOPE},
    )
    def create(self, request, name):
        organization = self.organization
        data = validated(s.InvitationCreateSerializer(data=unwrap(request.data, "invitation")))
        invitation = invitations.invite(organization, request.user, **data)
        return Response({"invitation": self.get_serializer(invitation).data}, status=201)

    def destroy(self, request, name, public_id):
        organization = self.organization
        invitation = organization.invitations.filter(public_id=public_id).first()
        if invitation is None:
            raise Http404
        try:
            invitations.revoke(invitation)
        except invitations.InvitationClosed as exc:
            raise Conflict(str(exc)) from None
        return Response(status=204)


class MyInvitationViewSet(viewsets.GenericViewSet):
    """The caller's pending invitations; accept or decline them."""

    access_rule = rule(GET=SIGNED_IN, POST=SIGNED_IN)

    serializer_class = s.InvitationSerializer
    pagination_class = envelope_pagination("invitations")

    def list(self, request):
        page = self.paginate_queryset(invitations.pending_for_user(request.user))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def _mine(self, request, public_id):
        invitation = invitations.for_user(request.user, public_id)
        if invitation is None:
            raise Http404
        return invitation

    @extend_schema(request=None, responses=INVITATION_ENVELOPE)
    def accept(self, request, public_id):
        invitation = self._mine(request, public_id)
        try:
            invitations.accept(invitation, request.user)
        except invitations.InvitationClosed as exc:
            raise Conflict(str(exc)) from None
        return Response({"invitation": self.get_serializer(invitation).data})

    @extend_schema(request=None, responses=INVITATION_ENVELOPE)
    def decline(self, request, public_id):
        invitation = self._mine(request, public_id)
        try:
            invitations.decline(invitation, request.user)
        except invitations.InvitationClosed as exc:
            raise Conflict(str(exc)) from None
        return Response({"invitation": self.get_serializer(invitation).data})
