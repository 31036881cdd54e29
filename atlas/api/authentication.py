"""Authentication for /api/v1: the X-Atlas-Token header, then the session.

Token authentication comes first so that DRF answers failures with 401 and a
`WWW-Authenticate` header. Every kind of bad token gets the same message, and
failures are counted per client address: past the limit the address gets 429
with Retry-After until the window passes.
"""

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication

from accounts import tokens

HEADER = "HTTP_X_ATLAS_TOKEN"
BAD_TOKEN_MESSAGE = "Invalid or missing API token. Send a valid token in the X-Atlas-Token header."


def client_address(request):
    return request.META.get("REMOTE_ADDR", "unknown")


def _failure_key(request):
    return f"auth-failures:{client_address(request)}"


def check_failure_throttle(request):
    """Refuse an address that failed too often within the window."""
    if cache.get(_failure_key(request), 0) >= settings.ATLAS_AUTH_FAILURE_LIMIT:
        raise exceptions.Throttled(wait=settings.ATLAS_AUTH_FAILURE_WINDOW)


def record_failure(request):
    key = _failure_key(request)
    if cache.add(key, 1, timeout=settings.ATLAS_AUTH_FAILURE_WINDOW):
        return
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=settings.ATLAS_AUTH_FAILURE_WINDOW)


class AtlasTokenAuthentication(BaseAuthentication):
    """`X-Atlas-Token: <id>.atlasv1.<secret>`; `request.auth` is the Token."""

    def authenticate(self, request):
        text = request.META.get(HEADER)
        if text is None:
            return None
        check_failure_throttle(request)
        token = tokens.authenticate(text.strip())
        if token is None:
            record_failure(request)
            raise exceptions.AuthenticationFailed(BAD_TOKEN_MESSAGE)
        return token.user, token

    def authenticate_header(self, request):
        return 'X-Atlas-Token realm="api"'


class CsrfSessionAuthentication(SessionAuthentication):
    """The web UI's session, for its own API calls; CSRF enforced as usual."""
