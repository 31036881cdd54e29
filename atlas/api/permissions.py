"""Default permission of every API view."""

from rest_framework.permissions import SAFE_METHODS, IsAuthenticated

from accounts.access import request_token


class AuthenticatedAndTokenAllows(IsAuthenticated):
    """Signed in, and a read-only token only for safe methods (403 otherwise)."""

    message = "This token is read-only."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        token = request_token(request)
        return not (token is not None and token.read_only and request.method not in SAFE_METHODS)
