"""Default permission of every API view: the view's declared access rule.

Each view states its `access_rule` (accounts.access): per HTTP method, what
it needs on the target its URL names. This permission checks the caller,
the token's kind, and then resolves the target once, leaving it on the view
(`view.environment`, `view.run`, ...) with `view.level` for the handler. A
view that declares nothing is refused: a forgotten rule must not leave an
endpoint guarded only by authentication.
"""

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from rest_framework.permissions import BasePermission

from accounts.access import ANYONE, request_token, resolve
from accounts.privileges import (
    READ_ONLY_MESSAGE,
    is_run_token,
    run_token_allows,
    token_refuses_method,
)


def run_token_request(view, request):
    """(action, target) of this request in the terms of a run token's
    allow-list: what the view says with `run_token_use(request)`; a view
    that says nothing names no action, so a run token is refused there."""
    use = getattr(view, "run_token_use", None)
    return use(request) if use is not None else (None, {})


class DeclaredAccess(BasePermission):
    """The view's access rule: signed in unless anyone may call it; a
    read-only token only for safe methods (403 otherwise); a run's own token
    only where `run_token_allows` lets it (404 elsewhere, as for a stranger,
    so a run learns nothing of what exists); then the level the method needs
    on the target (404 when the caller may not see it, 403 when too low)."""

    message = READ_ONLY_MESSAGE

    def has_permission(self, request, view):
        access_rule = getattr(view, "access_rule", None)
        if access_rule is None:
            raise ImproperlyConfigured(f"{type(view).__name__} declares no access_rule")
        # DRF serves HEAD with the GET handler: the same need.
        need = access_rule.need("GET" if request.method == "HEAD" else request.method)
        if need is not None and need.level == ANYONE:
            return True
        if not (request.user and request.user.is_authenticated):
            return False
        token = request_token(request)
        if is_run_token(token):
            action, target = run_token_request(view, request)
            if not run_token_allows(token, action, **target):
                raise Http404
        if token_refuses_method(token, request.method):
            return False
        if need is None:
            if request.method != "OPTIONS" and hasattr(view, request.method.lower()):
                raise ImproperlyConfigured(
                    f"{type(view).__name__} serves {request.method} with no need declared"
                )
            return True  # OPTIONS, or DRF answers 405: no handler for the method
        found, view.level = resolve(access_rule, request, view.kwargs, need)
        if access_rule.target is not None:
            setattr(view, access_rule.target.name, found)
        return True
