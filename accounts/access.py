"""Resolving a namespace for a request, and refusing what the caller may not do.

Shared by API views and web views: both raise Django's Http404 (the caller
may not see it, or it does not exist: the same answer) and PermissionDenied
(visible, but the level is too low: 403). The API's exception handler turns
both into JSON errors. The rules themselves are accounts.privileges'.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Level, Namespace, Token
from .privileges import (
    at_least,
    is_owner,
    namespace_level,
    organization_level,
    readable_namespaces,
    session_verified,
    two_factor_closes,
)

LEVEL_MESSAGES = {
    Level.READ: "You need read access to this namespace.",
    Level.WRITE: "You need write access to this namespace.",
    Level.ADMIN: "You need admin access to this namespace.",
}
ORGANIZATION_ADMIN_MESSAGE = "You need to be an owner (admin) of this organization."
READ_ONLY_MESSAGE = "This token is read-only."


class TwoFactorRequired(PermissionDenied):
    """The organization requires two-factor sign-in, and this session has none."""

    def __init__(self, namespace):
        self.namespace = namespace
        super().__init__(
            f"{namespace.name} requires two-factor sign-in: "
            "set it up in your account settings to continue."
        )


def request_token(request):
    """The API token the request authenticated with, or None (session)."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, Token) else None


def find_namespace(name):
    """The namespace named `name` (any case), or None."""
    return Namespace.objects.select_related("organization").filter(name__iexact=name).first()


def _check_two_factor(request, namespace):
    """In the web UI (a session, not a token), an organization that requires
    two-factor sign-in stays closed to a session without it."""
    if request_token(request) is None and two_factor_closes(
        request.user, namespace, session_verified(request.user)
    ):
        raise TwoFactorRequired(namespace)


def require_level(request, namespace, needed=Level.READ, environment=None):
    """The caller's level in `namespace` (on `environment`, when given);
    404 when none, 403 when too low."""
    token = request_token(request)
    level = namespace_level(request.user, namespace, token, environment)
    if level is None:
        raise Http404
    _check_two_factor(request, namespace)
    if not at_least(level, needed):
        if token is not None and token.read_only:
            raise PermissionDenied(READ_ONLY_MESSAGE)
        raise PermissionDenied(LEVEL_MESSAGES[needed])
    return level


def namespace_for(request, name, needed=Level.READ):
    """(namespace, level) for a namespace named in a URL, with the checks above."""
    namespace = find_namespace(name)
    if namespace is None:
        raise Http404
    return namespace, require_level(request, namespace, needed)


def visible_namespace_for(request, name):
    """(namespace, level) for a namespace the caller may see though perhaps
    hold no level in: a member without a default level, or someone granted
    one of its environments (level "none" or None). 404 for anyone else."""
    namespace = find_namespace(name)
    if namespace is None:
        raise Http404
    level = namespace_level(request.user, namespace, request_token(request))
    if level is None and not readable_namespaces(request.user).filter(pk=namespace.pk).exists():
        raise Http404
    _check_two_factor(request, namespace)
    return namespace, level


def organization_for(request, name, admin=False):
    """(organization, caller's membership level) for an organization named in
    a URL: 404 for non-members, 403 when `admin` is needed and the caller
    is not an owner."""
    namespace = find_namespace(name)
    if namespace is None or not namespace.is_organization:
        raise Http404
    organization = namespace.organization
    token = request_token(request)
    level = organization_level(request.user, organization, token)
    if level is None:
        raise Http404
    _check_two_factor(request, namespace)
    if admin and not is_owner(level):
        if token is not None and token.read_only:
            raise PermissionDenied(READ_ONLY_MESSAGE)
        raise PermissionDenied(ORGANIZATION_ADMIN_MESSAGE)
    return organization, level
