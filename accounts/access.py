"""Resolving what a request names, and refusing what the caller may not do.

Every view declares its access rule in one place: an `AccessRule` naming
the target its URL names (an environment, an organization, a run...) and,
per HTTP method, what it needs there (a level, or only a signed-in caller,
or anyone). API views set it as `access_rule` and the default DRF
permission (`atlas.api.permissions`) enforces it; web views are decorated
with `guard(rule)`. Either way the target is resolved once per request,
before the handler runs, and the handler receives it.

Both raise Django's Http404 (the caller may not see it, or it does not
exist: the same answer) and PermissionDenied (visible, but the level is too
low: 403). The API's exception handler turns both into JSON errors. The
rules themselves (levels, token kinds, visibility) are accounts.privileges'.
"""

import functools
from dataclasses import dataclass, field

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpResponseNotAllowed

from .models import Level, Namespace, Token
from .privileges import (
    at_least,
    is_owner,
    namespace_level,
    organization_level,
    organization_refusal_message,
    readable_namespaces,
    refusal_message,
    session_verified,
    two_factor_closes,
)

# What a method may need besides a level on the target.
ANYONE = "anyone"  # no sign-in: the handler checks a credential of its own (a password, a secret)
SIGNED_IN = "signed-in"  # any signed-in caller, acting on their own account only
# On an organization: any member, "none" level included (owners are Level.ADMIN).
MEMBER = "member"
# On a namespace: whoever may see it, with or without a level there (a
# member without a default level, someone granted one of its environments).
VISIBLE = "visible"


@dataclass(frozen=True)
class Need:
    """What one HTTP method needs on the target.

    `creates`: a missing environment is no 404 when the caller may write
    its namespace; the handler creates it (state writes, pushes, locks).
    `hidden_as_new`: with `creates`, an existing environment the caller may
    not see answers as a new name in its namespace would (403 for a member
    without a level), as the state write doors always have.
    `in_query`: the handler's own query applies the level, in the same
    round trip as the read (the state hot path); nothing is resolved first.
    """

    level: str
    creates: bool = False
    hidden_as_new: bool = False
    in_query: bool = False


@dataclass(frozen=True)
class Target:
    """What a URL names and how to find it at a needed level.

    `resolve(request, url_kwargs, need)` returns `(found, level)` or raises
    Http404 / PermissionDenied. `url_kwargs` names the URL arguments it
    reads: a guarded web view receives, in their place, what was found (as
    the keyword argument `name`) and `level`.
    """

    name: str
    resolve: object
    url_kwargs: tuple = ()


@dataclass(frozen=True)
class AccessRule:
    """A view's access: per HTTP method, what it needs on `target`."""

    target: Target | None
    needs: dict = field(default_factory=dict)

    def need(self, method):
        """The Need of `method`, or None when the view does not serve it."""
        return self.needs.get(method)

    @property
    def methods(self):
        return sorted(self.needs)


def rule(target=None, **needs):
    """An access rule: `rule(ENVIRONMENT, GET=Level.READ, POST=Level.WRITE)`,
    `rule(GET=SIGNED_IN)`, `rule(POST=ANYONE)`; a value may also be a `Need`."""
    normalized = {}
    for method, need in needs.items():
        need = need if isinstance(need, Need) else Need(need)
        if need.level not in (ANYONE, SIGNED_IN) and target is None:
            raise ImproperlyConfigured(f"{method} needs {need.level!r} on no target")
        normalized[method.upper()] = need
    return AccessRule(target, normalized)


def needs_target(need):
    return need.level not in (ANYONE, SIGNED_IN) and not need.in_query


def resolve(rule_, request, url_kwargs, need):
    """(found, level) of the rule's target for this request, or (None, None)
    when the method needs no target."""
    if not needs_target(need):
        return None, None
    return rule_.target.resolve(request, url_kwargs, need)


def guard(access_rule):
    """Decorate a web view with its access rule: 405 for another method, the
    sign-in page for an anonymous caller (unless anyone may call it), and
    the target resolved once, passed to the view as `<target name>=` and
    `level=` in place of the URL arguments that named it."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(request, *args, **kwargs):
            need = access_rule.need(request.method)
            if not request.user.is_authenticated:
                # Sign-in first, as `login_required` did, also for a method the
                # view does not serve, unless the view serves anyone.
                levels = [need.level] if need else [n.level for n in access_rule.needs.values()]
                if ANYONE not in levels:
                    return redirect_to_login(request.get_full_path())
            if need is None:
                return HttpResponseNotAllowed(access_rule.methods)
            if needs_target(need):
                found, level = access_rule.target.resolve(request, kwargs, need)
                for name in access_rule.target.url_kwargs:
                    kwargs.pop(name, None)
                kwargs[access_rule.target.name] = found
                kwargs["level"] = level
            return view(request, *args, **kwargs)

        guarded.access_rule = access_rule
        return guarded

    return decorate


def declare(access_rule, view):
    """Set the access rule of a view that enforces it itself (Django's own
    sign-in and password views, a secret in the URL): the URL walk reads it."""
    view.access_rule = access_rule
    return view


def declares(access_rule):
    """`declare` as a decorator."""
    return functools.partial(declare, access_rule)


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
    return refuse_below(request, namespace, level, needed)


def refuse_below(request, namespace, level, needed):
    """`level`, the caller's in `namespace`, if it grants `needed`: 404 when
    there is none, 403 when too low (or two-factor sign-in is missing)."""
    token = request_token(request)
    if level is None:
        raise Http404
    _check_two_factor(request, namespace)
    if not at_least(level, needed):
        raise PermissionDenied(refusal_message(token, needed))
    return level


def demand(request, level, needed):
    """403 unless `level`, already resolved for this request, grants `needed`:
    for a handler whose need depends on what the request asks (a force-unlock)."""
    if not at_least(level, needed):
        raise PermissionDenied(refusal_message(request_token(request), needed))


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
        raise PermissionDenied(organization_refusal_message(token))
    return organization, level


def _resolve_organization(request, url_kwargs, need):
    if need.level not in (MEMBER, Level.ADMIN):
        raise ImproperlyConfigured(f"An organization needs MEMBER or Level.ADMIN, not {need.level}")
    return organization_for(request, url_kwargs["name"], admin=need.level == Level.ADMIN)


def namespace_target(url_kwarg):
    """The namespace named by the URL argument `url_kwarg`: VISIBLE or a Level."""

    def resolve_namespace(request, url_kwargs, need):
        if need.level == VISIBLE:
            return visible_namespace_for(request, url_kwargs[url_kwarg])
        return namespace_for(request, url_kwargs[url_kwarg], need.level)

    return Target("namespace", resolve_namespace, (url_kwarg,))


# An organization named by the URL argument `name`: MEMBER or Level.ADMIN (owners).
ORGANIZATION = Target("organization", _resolve_organization, ("name",))
