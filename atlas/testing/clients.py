"""API test clients that take the path production takes (atlas.handlers).

Django's test client runs every request through settings.MIDDLEWARE; the
WSGI application sends /api/ calls that carry a token to the fast path
(atlas.fastpath) and, where it declines, through the shorter token API
stack. These clients do the same, so the API's tests exercise what serves
those calls.
"""

from rest_framework.test import APIClient, ForceAuthClientHandler

from atlas.handlers import TokenAPIStack, carries_token, fast_path


class TokenAPIClientHandler(TokenAPIStack, ForceAuthClientHandler):
    """The test client's handler with the fast path and the token API stack.

    The fast path answers from the environ, after the request_started
    signal, as in production (atlas.handlers.AtlasWSGIApplication).
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async)
        self.fast = fast_path()

    def get_response(self, request):
        if self._force_user is None and self._force_token is None:
            response = self.fast.answer(request.environ)
            if response is not None:
                return response
        return super().get_response(request)


class RoutingClientHandler:
    """Token API calls to the short stack, everything else to the web's."""

    def __init__(self, web):
        self.__dict__["web"] = web
        self.__dict__["api"] = TokenAPIClientHandler(enforce_csrf_checks=web.enforce_csrf_checks)

    def __call__(self, environ):
        return (self.api if carries_token(environ) else self.web)(environ)

    def __getattr__(self, name):
        return getattr(self.web, name)

    def __setattr__(self, name, value):
        # `force_authenticate` sets the user on the handler: on both.
        setattr(self.web, name, value)
        setattr(self.api, name, value)


def routing_api_client():
    client = APIClient()
    client.handler = RoutingClientHandler(client.handler)
    return client
