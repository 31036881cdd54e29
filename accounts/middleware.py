"""What accounts needs to know about every request: who acts, from where."""

import time

from .context import client_address, request_context
from .sessions import SEEN_KEY, SEEN_RESOLUTION


class RequestContextMiddleware:
    """Hand the request to the audit trail and the session store.

    The audit trail reads the actor, their token and the address from the
    request being served (accounts.audit.record, called by the domain
    functions every door shares); the session row keeps the address and
    browser it was last used from, and when (at most every few minutes).
    Place it after the authentication middleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None:
            session.address = client_address(request)
            session.user_agent = request.META.get("HTTP_USER_AGENT", "")
        with request_context(request):
            response = self.get_response(request)
        if session is not None and session.session_key and request.user.is_authenticated:
            seen = session.get(SEEN_KEY)
            now = int(time.time())
            if not isinstance(seen, int) or now - seen >= SEEN_RESOLUTION.total_seconds():
                session[SEEN_KEY] = now
        return response
