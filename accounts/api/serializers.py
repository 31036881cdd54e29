"""Serializers for users, organizations, memberships and tokens."""

from hashlib import md5

from django.utils import timezone
from rest_framework import serializers

from accounts.models import Level, Membership, Organization, Token, User


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
        fields = ["name", "email", "created_at", "level"]

    def get_level(self, organization) -> str:
        return getattr(organization, "caller_level", None)


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["username", "level", "created_at"]


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=64)
    level = serializers.ChoiceField(choices=Level.choices, default=Level.READ)


class MemberUpdateSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=Level.choices)


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
    read_only = serializers.BooleanField(required=False, default=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
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
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
