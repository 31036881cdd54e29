"""Every URL's view declares its access rule, and the rule is what guards it.

The walk covers /api/v1, /api/v2 and the web pages: a view that declares no
rule (`access_rule`, set by `accounts.access.guard`, `declare` or on an API
view's class) fails here, as does an API view that serves a method its rule
says nothing about, or one whose rule resolves a target from URL arguments
its pattern does not have.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from accounts.access import ANYONE, SIGNED_IN, guard, rule
from accounts.models import Level
from atlas.api.permissions import DeclaredAccess

# Not walked, and why.
EXCLUDED = {
    "admin/": "Django's admin has its own staff sign-in and model permissions",
    "healthz": "the load balancers' probe: answers anyone, reveals only that the database answers",
    "api/v1/schema": "drf-spectacular's OpenAPI document of the public API, served to anyone",
    "api-docs/": "drf-spectacular's Swagger UI for that document, served to anyone",
}
HANDLERS = ("get", "post", "put", "patch", "delete", "lock", "unlock")
# URL arguments that name something access depends on: a view whose route has
# one must resolve it through its rule's target, not by hand.
NAMING_ARGUMENTS = {"name", "organization", "workspace_id", "run_id", "version_id", "output_id"}


def walk(patterns, prefix="", arguments=frozenset()):
    """(route, pattern, the URL arguments it passes, its includes' too)."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if any(route.startswith(excluded) for excluded in EXCLUDED):
            continue
        passed = arguments | set(pattern.pattern.converters)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route, passed)
        elif isinstance(pattern, URLPattern):
            yield route, pattern, passed


ROUTES = list(walk(get_resolver().url_patterns))


def served_methods(callback):
    """The HTTP methods an API view answers with a handler of its own."""
    actions = getattr(callback, "actions", None)
    if actions:
        return {method.upper() for method in actions} - {"HEAD", "OPTIONS"}
    cls = callback.cls
    return {m.upper() for m in HANDLERS if m in cls.http_method_names and hasattr(cls, m)}


def access_rule_of(callback):
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return getattr(callback, "access_rule", None) or getattr(cls, "access_rule", None)


def test_the_walk_covers_every_door():
    routes = [route for route, _pattern, _arguments in ROUTES]
    assert len(routes) > 150
    for expected in (
        "api/v1/environments/<str:username>/<str:name>",
        "api/v1/terraform/state/<str:username>/<str:name>",
        "api/v2/workspaces/<str:workspace_id>",
        "environments/<str:username>/<str:name>/runs/<int:run_id>",
        "organizations/<str:name>/teams",
        "login",
    ):
        assert expected in routes


@pytest.mark.parametrize(
    ("route", "pattern", "arguments"), ROUTES, ids=[route for route, _, _ in ROUTES]
)
def test_every_view_declares_its_access_rule(route, pattern, arguments):
    callback = pattern.callback
    access_rule = access_rule_of(callback)
    assert access_rule is not None, f"{route}: {callback.__module__}.{callback.__name__}"
    assert access_rule.needs, f"{route}: the rule serves no method"
    if access_rule.target is not None:
        missing = set(access_rule.target.url_kwargs) - arguments
        assert not missing, f"{route}: the target reads URL arguments it lacks: {missing}"
    else:
        named = arguments & NAMING_ARGUMENTS
        assert not named, f"{route}: {named} name what the rule should resolve as its target"
    if hasattr(callback, "cls") and getattr(callback, "access_rule", None) is None:
        # An API view: the default permission enforces the rule, per method.
        permissions = callback.cls.permission_classes
        assert DeclaredAccess in permissions, f"{route}: {permissions} bypass the rule"
        for method in served_methods(callback):
            assert access_rule.need(method) is not None, f"{route}: {method} has no need"


class Undeclared(APIView):
    def get(self, request):
        return Response({})


class Declared(APIView):
    access_rule = rule(GET=SIGNED_IN)

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        return Response({"ok": True})


def test_an_api_view_without_a_rule_is_refused_not_served(db, personas, caplog):
    request = APIRequestFactory().get("/api/v1/undeclared")
    force_authenticate(request, user=personas.admin.user)
    response = Undeclared.as_view()(request)
    assert response.status_code == 500
    assert "Undeclared declares no access_rule" in caplog.text


def test_an_api_method_the_rule_does_not_name_is_refused(db, personas, caplog):
    request = APIRequestFactory().post("/api/v1/declared")
    force_authenticate(request, user=personas.admin.user)
    response = Declared.as_view()(request)
    assert response.status_code == 500
    assert "Declared serves POST with no need declared" in caplog.text


def test_an_api_rule_serves_signed_in_callers_only(db, personas):
    factory = APIRequestFactory()
    assert Declared.as_view()(factory.get("/api/v1/declared")).status_code == 401
    request = factory.get("/api/v1/declared")
    force_authenticate(request, user=personas.admin.user)
    assert Declared.as_view()(request).data == {"ok": True}


@guard(rule(GET=SIGNED_IN))
def signed_in_page(request):
    from django.http import HttpResponse

    return HttpResponse("seen")


@guard(rule(POST=ANYONE))
def open_form(request):
    from django.http import HttpResponse

    return HttpResponse("posted")


def test_a_guarded_page_sends_strangers_to_sign_in_and_refuses_other_methods(db, personas):
    factory = RequestFactory()
    anonymous = factory.get("/somewhere")
    from django.contrib.auth.models import AnonymousUser

    anonymous.user = AnonymousUser()
    response = signed_in_page(anonymous)
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/somewhere"
    signed_in = factory.post("/somewhere")
    signed_in.user = personas.admin.user
    assert signed_in_page(signed_in).status_code == 405
    signed_in = factory.get("/somewhere")
    signed_in.user = personas.admin.user
    assert signed_in_page(signed_in).content == b"seen"
    stranger = factory.post("/form")
    stranger.user = AnonymousUser()
    assert open_form(stranger).content == b"posted"
    stranger = factory.get("/form")
    stranger.user = AnonymousUser()
    assert open_form(stranger).status_code == 405


def test_a_rule_that_needs_a_level_names_its_target():
    with pytest.raises(ImproperlyConfigured):
        rule(GET=Level.READ)
