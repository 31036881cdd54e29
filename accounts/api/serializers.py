"""Serializers for users, organizations, memberships and tokens."""

from hashlib import md5

from rest_framework import serializers

from accounts import tokens
from accounts.models import Invitation, MemberLevel, Membership, Organization, Token, User


def avatar_url(email):
    digest = md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://www.gravatar.com/avatar/{digest}?d=identicon"


class UserSerializer(serializers.ModelSerializer):
    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["username", "avatar_url"]

    def get_avatar_url(self, user) -> str:
        return avatar_url(user.email or user.username)


class MembershipOfUserSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="organization.namespace.name")

    class Meta:
        model = Membership
        fields = ["name", "level"]


class CurrentUserSerializer(UserSerializer):
    organizations = MembershipOfUserSerializer(source="memberships", many=True)

    class Meta(UserSerializer.Meta):
        fields = ["username", "email", "avatar_url", "organizations"]


class OrganizationSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="namespace.name")
    level = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["name", "email", "created_at", "level", "require_two_factor"]

    def get_level(self, organization) -> str:
        return getattr(organization, "caller_level", None)


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class OrganizationUpdateSerializer(serializers.Serializer):
    require_two_factor = serializers.BooleanField(required=False)


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["username", "level", "created_at"]


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=64)
    level = serializers.ChoiceField(choices=MemberLevel.choices, default=MemberLevel.READ)


class MemberUpdateSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=MemberLevel.choices)


class InvitationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    organization = serializers.CharField(source="organization.namespace.name")
    username = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()
    status = serializers.CharField(source="state")
    invited_by = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = [
            "id",
            "organization",
            "username",
            "email",
            "level",
            "status",
            "invited_by",
            "created_at",
            "expires_at",
        ]

    def get_username(self, invitation) -> str | None:
        return invitation.user.username if invitation.user_id else None

    def get_email(self, invitation) -> str | None:
        return invitation.email or None

    def get_invited_by(self, invitation) -> str | None:
        return invitation.invited_by.username if invitation.invited_by_id else None


class InvitationCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    level = serializers.ChoiceField(choices=MemberLevel.choices, default=MemberLevel.READ)

    def validate(self, data):
        if bool(data["username"]) == bool(data["email"]):
            raise serializers.ValidationError("send either a username or an email address")
        return data


class TeamSerializer(serializers.Serializer):
    name = serializers.CharField()
    owners = serializers.BooleanField()
    members = serializers.ListField(child=serializers.CharField(), source="member_names")
    created_at = serializers.DateTimeField()


class TeamAccessSerializer(serializers.Serializer):
    environment = serializers.CharField(source="environment.slug")
    level = serializers.CharField()


class TeamDetailSerializer(TeamSerializer):
    access = TeamAccessSerializer(many=True, source="grant_list")


class TeamWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class TeamMemberSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=64)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    actor = serializers.SerializerMethodField()
    token_id = serializers.SerializerMethodField()
    address = serializers.CharField()
    object = serializers.SerializerMethodField()
    before = serializers.JSONField()
    after = serializers.JSONField()
    created_at = serializers.DateTimeField()

    def get_actor(self, event) -> str | None:
        return event.actor_name or None

    def get_token_id(self, event) -> str | None:
        return event.token_id or None

    def get_object(self, event) -> dict:
        return {"type": event.object_type, "id": event.object_id, "name": event.object_name}


class TokenSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    status = serializers.CharField()

    class Meta:
        model = Token
        fields = [
            "id",
            "kind",
            "description",
            "read_only",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "status",
        ]


class TokenCreateSerializer(serializers.Serializer):
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    # A code from the authenticator app (or a recovery code), for users who
    # sign in with a second factor.
    otp = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    read_only = serializers.BooleanField(required=False, default=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_expires_at(self, value):
        if not tokens.expiry_allowed(value):
            raise serializers.ValidationError("must be in the future")
        return value


class NewTokenSerializer(TokenSerializer):
    token = serializers.SerializerMethodField()

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]

    def get_token(self, token) -> str:
        return self.context["text"]


class LoginSerializer(serializers.Serializer):
    login = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    otp = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
