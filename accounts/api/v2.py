"""The accounts part of /api/v2: who a token is (`GET /account/details`)."""

from rest_framework.response import Response

from accounts.access import SIGNED_IN, rule
from atlas.api.jsonapi import V2View, resource


def user_resource(user):
    return resource(
        "users",
        f"user-{user.pk}",
        {
            "username": user.username,
            "email": user.email,
            "avatar-url": "",
            "is-service-account": False,
            "two-factor": {"enabled": False, "verified": False},
            "unconfirmed-email": None,
            "v2-only": False,
            "is-site-admin": bool(user.is_superuser),
            "permissions": {
                "can-create-organizations": True,
                "can-change-email": True,
                "can-change-username": False,
            },
        },
    )


class AccountDetailsView(V2View):
    access_rule = rule(GET=SIGNED_IN)

    def get(self, request):
        return Response({"data": user_resource(request.user)})
