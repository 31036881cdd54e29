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
