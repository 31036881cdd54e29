"""Default permission of every API view."""

from django.http import Http404
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated

from accounts.access import request_token
from accounts.privileges import is_run_token, run_token_allows


def run_token_request(view, request):
    """(action, target) of this request in the terms of a run token's
    allow-list: what the view says with `run_token_use(request)`; a view
    that says nothing names no action, so a run token is refused there."""
    use = getattr(view, "run_token_use", None)
    return use(request) if use is not None else (None, {})


class AuthenticatedAndTokenAllows(IsAuthenticated):
    """Signed in; a read-only token only for safe methods (403 otherwise); a
    run's own token only where `run_token_allows` lets it (404 elsewhere, as
    for a stranger, so a run learns nothing of what exists)."""

    message = "This token is read-only."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        token = request_token(request)
        if is_run_token(token):
            action, target = run_token_request(view, request)
            if not run_token_allows(token, action, **target):
                raise Http404
        return not (token is not None and token.read_only and request.method not in SAFE_METHODS)
