"""Resolving a namespace for a request, and refusing what the caller may not do.

Shared by API views and web views: both raise Django's Http404 (the caller
may not see it, or it does not exist: the same answer) and PermissionDenied
(visible, but the level is too low: 403). The API's exception handler turns
both into JSON errors.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Level, Namespace, Token
from .privileges import at_least, namespace_level

LEVEL_MESSAGES = {
    Level.READ: "You need read access to this namespace.",
    Level.WRITE: "You need write access to this namespace.",
    Level.ADMIN: "You need admin access to this namespace.",
}


def request_token(request):
    """The API token the request authenticated with, or None (session)."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, Token) else None


def find_namespace(name):
    """The namespace named `name` (any case), or None."""
    return Namespace.objects.filter(name__iexact=name).first()


def require_level(request, namespace, needed=Level.READ, environment=None):
    """The caller's level in `namespace`; 404 when none, 403 when too low."""
    level = namespace_level(request.user, namespace, request_token(request), environment)
    if level is None:
        raise Http404
    if not at_least(level, needed):
        if request_token(request) is not None and request_token(request).read_only:
            raise PermissionDenied("This token is read-only.")
        raise PermissionDenied(LEVEL_MESSAGES[needed])
    return level


def namespace_for(request, name, needed=Level.READ):
    """(namespace, level) for a namespace named in a URL, with the checks above."""
    namespace = find_namespace(name)
    if namespace is None:
        raise Http404
    return namespace, require_level(request, namespace, needed)
