"""OpenAPI descriptions of our authentication classes, for drf-spectacular."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AtlasTokenScheme(OpenApiAuthenticationExtension):
    target_class = "atlas.api.authentication.AtlasTokenAuthentication"
    name = "AtlasToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Atlas-Token"}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "atlas.api.authentication.CsrfSessionAuthentication"
    name = "Session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


# Methods OpenAPI cannot describe (the http backend's LOCK and UNLOCK); the
# README documents them beside the POST/DELETE of `.../lock`.
UNDESCRIBED_METHODS = {"LOCK", "UNLOCK"}


def drop_undescribed_methods(endpoints):
    """drf-spectacular preprocessing hook: the schema describes /api/v1 only
    (the TFE v2 API is Terraform Cloud's, documented there and in the
    README), without methods OpenAPI has no name for."""
    return [
        endpoint
        for endpoint in endpoints
        if endpoint[0].startswith("/api/v1/") and endpoint[2] not in UNDESCRIBED_METHODS
    ]
