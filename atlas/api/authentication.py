"""Authentication for the API: an API token, then the session.

One path reads the token from whichever header a client uses and checks it
(`credentials`, then `accounts.throttle.authenticate_token`):

- `X-Atlas-Token: <token>`: Terraform's atlas backend, push, scripts;
- `Authorization: Bearer <token>`: TFE v2 clients (`remote`, `cloud`), curl;
- `Authorization: Basic` with the token as the password: Terraform's http
  backend (`username`/`password`, GitLab's convention). The username must be
  the token owner's name (any case): another name is refused like a bad
  token, so a token pasted under someone else's name never works by accident.

Token authentication comes first so that DRF answers failures with 401 and a
`WWW-Authenticate` header. Every kind of bad token gets the same message.
Failures go through the failure throttle (accounts.throttle): a valid token
is always let in, and repeated failures of one token id from one address
are answered 429 with Retry-After.
"""

import base64
import binascii

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication

from accounts import throttle

HEADER = "HTTP_X_ATLAS_TOKEN"
BAD_TOKEN_MESSAGE = "Invalid or missing API token. Send a valid token in the X-Atlas-Token header."


def credentials(request):
    """(scheme, token text, username or None) from the request's headers, or None.

    `X-Atlas-Token` wins over `Authorization`; an `Authorization` header of
    another scheme (or unreadable Basic credentials) gives an empty token
    text, which fails like a bad token.
    """
    meta = request.META
    text = meta.get(HEADER)
    if text is not None:
        return "atlas", text.strip(), None
    authorization = meta.get("HTTP_AUTHORIZATION")
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return "bearer", value.strip(), None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, ValueError):
            return "basic", "", None
        username, _, password = decoded.partition(":")
        return "basic", password.strip(), username
    return scheme, "", None


def names_its_owner(scheme, username, token):
    """Whether credentials of `scheme` name `token`'s owner: Basic must carry
    the owner's name (any case); the other schemes name no one."""
    return scheme != "basic" or username.lower() == token.user.username.lower()


def authenticate_request(request):
    """The Token a request carries, None when it carries none; a bad one raises
    AuthenticationFailed (counted by the failure throttle, which raises
    Throttled past its limit)."""
    found = credentials(request)
    if found is None:
        return None
    scheme, text, username = found
    token = throttle.authenticate_token(request, text)
    if token is not None and not names_its_owner(scheme, username, token):
        standing = throttle.record_failure(request, throttle.token_identity(text))
        if standing.failures > settings.ATLAS_AUTH_FAILURE_LIMIT:
            raise throttle.TooManyFailures(wait=standing.retry_after)
        token = None
    if token is None:
        raise exceptions.AuthenticationFailed(BAD_TOKEN_MESSAGE)
    return token


class AtlasTokenAuthentication(BaseAuthentication):
    """An API token from any of the headers above; `request.auth` is the Token."""

    def authenticate(self, request):
        token = authenticate_request(request)
        return None if token is None else (token.user, token)

    def authenticate_header(self, request):
        found = credentials(request)
        if found is not None and found[0] == "basic":
            return 'Basic realm="atlas"'
        if found is not None and found[0] == "bearer":
            return 'Bearer realm="atlas"'
        return 'X-Atlas-Token realm="api"'


class CsrfSessionAuthentication(SessionAuthentication):
    """The web UI's session, for its own API calls; CSRF enforced as usual."""
