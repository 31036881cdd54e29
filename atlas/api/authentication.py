"""Authentication for /api/v1: the X-Atlas-Token header, then the session.

Token authentication comes first so that DRF answers failures with 401 and a
`WWW-Authenticate` header. Every kind of bad token gets the same message.
Failures go through the failure throttle (accounts.throttle): a valid token
is always let in, and repeated failures of one token id from one address
are answered 429 with Retry-After.
"""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication

from accounts import throttle

HEADER = "HTTP_X_ATLAS_TOKEN"
BAD_TOKEN_MESSAGE = "Invalid or missing API token. Send a valid token in the X-Atlas-Token header."


class AtlasTokenAuthentication(BaseAuthentication):
    """`X-Atlas-Token: <id>.atlasv1.<secret>`; `request.auth` is the Token."""

    def authenticate(self, request):
        text = request.META.get(HEADER)
        if text is None:
            return None
        token = throttle.authenticate_token(request, text)
        if token is None:
            raise exceptions.AuthenticationFailed(BAD_TOKEN_MESSAGE)
        return token.user, token

    def authenticate_header(self, request):
        return 'X-Atlas-Token realm="api"'


class CsrfSessionAuthentication(SessionAuthentication):
    """The web UI's session, for its own API calls; CSRF enforced as usual."""
