"""Middleware that guards every request before any view sees it."""

from atlas.api.exceptions import json_error


class QueryStringTokenMiddleware:
    """Refuse API tokens in the query string.

    URLs end up in proxy logs, browser history and referrers, so a token
    there is a leaked token. The client is told to use the header; the
    request goes no further and its query string is never logged by us.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and "access_token" in request.GET:
            return json_error(
                400,
                "Do not send tokens in the URL; send them in the X-Atlas-Token header.",
            )
        return self.get_response(request)
