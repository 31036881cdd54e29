"""The accounts part of /api/v1: authenticate, user, organizations, members, tokens.

Teams, invitations and the audit trail have modules of their own beside this one.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response

from accounts import audit, invitations, services, throttle, tokens, twofactor
from accounts.access import ANYONE, MEMBER, ORGANIZATION, SIGNED_IN, request_token, rule
from accounts.models import Level, MemberLevel, Organization, Token, User
from accounts.privileges import adds_members_directly, token_issue_refusal, visible_namespace
from atlas.api.envelopes import unwrap, validated
from atlas.api.exceptions import Unprocessable
from atlas.api.pagination import envelope_pagination

from . import serializers as s

BAD_LOGIN = "Invalid login or password."
ORGANIZATION_ENVELOPE = inline_serializer(
    "OrganizationEnvelope", {"organization": s.OrganizationSerializer()}
)
MEMBERSHIP_ENVELOPE = inline_serializer("MembershipEnvelope", {"membership": s.MemberSerializer()})
INVITATION_ENVELOPE = inline_serializer(
    "InvitationEnvelope", {"invitation": s.InvitationSerializer()}
)


class AuthenticateViewSet(viewsets.ViewSet):
    """`POST` trades a login and password for a new token; `GET` checks a token."""

    access_rule = rule(GET=SIGNED_IN, POST=ANYONE)  # the password is the credential

    @extend_schema(
        request=inline_serializer("AuthenticateRequest", {"user": s.LoginSerializer()}),
        responses={
            201: inline_serializer("AuthenticateResponse", {"token": serializers.CharField()})
        },
        auth=[{"AtlasToken": []}, {"Session": []}, {}],  # no credential needed: a password
    )
    def create(self, request):
        data = validated(s.LoginSerializer(data=unwrap(request.data, "user")))
        user = throttle.authenticate_password(request, data["login"], data["password"])
        if user is None:
            audit.record("user.sign_in_failed", name=data["login"][:150], after={"door": "api"})
            raise AuthenticationFailed(BAD_LOGIN)
        try:
            twofactor.check_token_creation(request, user, data["otp"])
        except twofactor.SecondFactorNeeded as exc:
            if exc.enrol:
                raise PermissionDenied(str(exc)) from None
            audit.record("user.sign_in_failed", obj=user, actor=user, after={"door": "api"})
            raise AuthenticationFailed({"otp": [str(exc)]}) from None
        audit.record("user.sign_in", obj=user, actor=user, after={"door": "api"})
        _, text = tokens.issue(user, description=data["description"] or "API login")
        return Response({"token": text}, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            200: inline_serializer("AuthenticateStatus", {"username": serializers.CharField()})
        }
    )
    def verify(self, request):
        return Response({"username": request.user.username})


class UserViewSet(viewsets.ViewSet):
    """The caller's own account, and other visible users and organizations."""

    access_rule = rule(GET=SIGNED_IN)  # `retrieve` finds only what privileges let the caller see

    @extend_schema(responses=s.CurrentUserSerializer, operation_id="user_me")
    def me(self, request):
        user = User.objects.prefetch_related("memberships__organization__namespace").get(
            pk=request.user.pk
        )
        return Response(s.CurrentUserSerializer(user).data)

    @extend_schema(
        responses=inline_serializer(
            "NamespaceOwner",
            {
                "username": serializers.CharField(),
                "avatar_url": serializers.CharField(allow_null=True),
                "kind": serializers.CharField(),
            },
        )
    )
    def retrieve(self, request, username):
        namespace = visible_namespace(request.user, username)
        if namespace is None:
            raise Http404
        if namespace.is_organization:
            return Response(
                {"username": namespace.name, "avatar_url": None, "kind": namespace.kind}
            )
        user = namespace.user
        return Response(
            {
                "username": user.username,
                "avatar_url": s.avatar_url(user.email or user.username),
                "kind": namespace.kind,
            }
        )


class OrganizationListViewSet(viewsets.GenericViewSet):
    """Organizations the caller belongs to; anyone signed in creates one."""

    access_rule = rule(GET=SIGNED_IN, POST=SIGNED_IN)
    serializer_class = s.OrganizationSerializer
    pagination_class = envelope_pagination("organizations")

    def get_queryset(self):
        return (
            Organization.objects.filter(memberships__user=self.request.user)
            .select_related("namespace")
            .annotate(caller_level=F("memberships__level"))
            .order_by("namespace__name")
        )

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=inline_serializer(
            "OrganizationCreateRequest", {"organization": s.OrganizationCreateSerializer()}
        ),
        responses={201: ORGANIZATION_ENVELOPE},
    )
    def create(self, request):
        data = validated(s.OrganizationCreateSerializer(data=unwrap(request.data, "organization")))
        organization = services.create_organization(request.user, data["name"], data["email"])
        organization.caller_level = MemberLevel.ADMIN
        return Response({"organization": self.get_serializer(organization).data}, status=201)


class OrganizationMixin:
    """The organization the URL names, with the caller's level on it."""

    @property
    def caller_organization(self):
        self.organization.caller_level = self.level
        return self.organization


class OrganizationViewSet(OrganizationMixin, viewsets.GenericViewSet):
    """One organization: its members read it, owners change its settings."""

    access_rule = rule(ORGANIZATION, GET=MEMBER, PATCH=Level.ADMIN)
    serializer_class = s.OrganizationSerializer

    @extend_schema(responses=ORGANIZATION_ENVELOPE)
    def retrieve(self, request, name):
        organization = self.caller_organization
        return Response({"organization": self.get_serializer(organization).data})

    @extend_schema(
        request=inline_serializer(
            "OrganizationUpdateRequest", {"organization": s.OrganizationUpdateSerializer()}
        ),
        responses=ORGANIZATION_ENVELOPE,
    )
    def partial_update(self, request, name):
        organization = self.caller_organization
        data = validated(s.OrganizationUpdateSerializer(data=unwrap(request.data, "organization")))
        if "require_two_factor" in data:
            services.set_require_two_factor(organization, data["require_two_factor"], request.user)
        return Response({"organization": self.get_serializer(organization).data})


class MemberViewSet(OrganizationMixin, viewsets.GenericViewSet):
    """An organization's members and their levels; changes need admin."""

    access_rule = rule(
        ORGANIZATION, GET=MEMBER, POST=Level.ADMIN, PATCH=Level.ADMIN, DELETE=Level.ADMIN
    )

    serializer_class = s.MemberSerializer
    pagination_class = envelope_pagination("members")

    def list(self, request, name):
        organization = self.caller_organization
        members = organization.memberships.select_related("user").order_by("user__username")
        page = self.paginate_queryset(members)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=inline_serializer(
            "MemberCreateRequest", {"membership": s.MemberCreateSerializer()}
        ),
        responses={
            201: PolymorphicProxySerializer(
                component_name="MemberAdded",
                serializers=[MEMBERSHIP_ENVELOPE, INVITATION_ENVELOPE],
                resource_type_field_name=None,
            )
        },
    )
    def create(self, request, name):
        """Operators add a member at once; everyone else invites them."""
        organization = self.caller_organization
        data = validated(s.MemberCreateSerializer(data=unwrap(request.data, "membership")))
        user = services.find_user(data["username"])
        if user is None:
            raise Unprocessable({"username": ["no such user"]})
        if not adds_members_directly(request.user):
            invitation = invitations.invite(
                organization, request.user, username=user.username, level=data["level"]
            )
            body = s.InvitationSerializer(invitation).data
            return Response({"invitation": body}, status=201)
        membership = services.add_member(organization, user, data["level"])
        return Response({"membership": self.get_serializer(membership).data}, status=201)

    def _membership(self, organization, username):
        membership = (
            organization.memberships.select_related("user", "organization")
            .filter(user__username__iexact=username)
            .first()
        )
        if membership is None:
            raise Http404
        return membership

    @extend_schema(
        request=inline_serializer(
            "MemberUpdateRequest", {"membership": s.MemberUpdateSerializer()}
        ),
        responses=MEMBERSHIP_ENVELOPE,
    )
    def partial_update(self, request, name, username):
        organization = self.caller_organization
        membership = self._membership(organization, username)
        data = validated(s.MemberUpdateSerializer(data=unwrap(request.data, "membership")))
        services.change_level(membership, data["level"])
        return Response({"membership": self.get_serializer(membership).data})

    def destroy(self, request, name, username):
        organization = self.caller_organization
        services.remove_member(self._membership(organization, username))
        return Response(status=204)


class TokenViewSet(viewsets.GenericViewSet):
    """The caller's own tokens. The secret is shown once, in the create response."""

    access_rule = rule(GET=SIGNED_IN, POST=SIGNED_IN, DELETE=SIGNED_IN)

    serializer_class = s.TokenSerializer
    pagination_class = envelope_pagination("tokens")

    def get_queryset(self):
        return Token.objects.filter(user=self.request.user, kind=Token.Kind.USER)

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=inline_serializer("TokenCreateRequest", {"token": s.TokenCreateSerializer()}),
        responses={201: inline_serializer("NewTokenResponse", {"token": s.NewTokenSerializer()})},
    )
    def create(self, request):
        refusal = token_issue_refusal(request_token(request))
        if refusal is not None:
            raise PermissionDenied(refusal)
        data = validated(
            s.TokenCreateSerializer(data=unwrap(request.data, "token", required=False))
        )
        code = data.pop("otp")
        try:
            twofactor.check_token_creation(request, request.user, code)
        except twofactor.SecondFactorNeeded as exc:
            raise exceptions.PermissionDenied({"otp": [str(exc)]}) from None
        token, text = tokens.issue(request.user, **data)
        body = s.NewTokenSerializer(token, context={"text": text}).data
        return Response({"token": body}, status=201, headers={"Cache-Control": "no-store"})

    def destroy(self, request, public_id):
        token = self.get_queryset().filter(public_id=public_id).first()
        if token is None:
            raise Http404
        tokens.revoke(token)
        return Response(status=204)
