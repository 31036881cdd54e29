"""Two middleware stacks: the web's, and a shorter one for API calls with a token.

An /api/ request that carries `X-Atlas-Token` or `Authorization` is
authenticated by that header alone: with either present,
atlas.api.authentication never falls back to the session (a bad or foreign
credential is a 401). So the middleware that serves browsers has nothing to
do for it, and costs a measurable share of a small answer (~0.2 ms):
sessions, CSRF (every /api/ view is exempt: tokens are not ambient
credentials), authentication from the session, two-factor, messages, htmx,
static files, page compression and the POST-only redirects (both of which
leave /api/ untouched anyway).

Everything else runs as for any request, in the same order: the security
headers (SecurityMiddleware, CSP, X-Frame-Options), the trusted proxy, the
API version header, the database-unavailable answer, the guards against a
token in the query string, hostile text and oversized bodies, CommonMiddleware
and the request context of the audit trail. The stack is derived from
settings.MIDDLEWARE by leaving the web's own out, so a middleware added
there applies to both unless it is listed here.
"""

from django.conf import settings
from django.core import signals
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, get_script_name
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

from atlas.fastpath import FastPath

WEB_ONLY_MIDDLEWARE = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "atlas.web.PageGZipMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django_htmx.middleware.HtmxMiddleware",
        "atlas.web.PostOnlyRedirectMiddleware",
    }
)
TOKEN_HEADERS = ("HTTP_X_ATLAS_TOKEN", "HTTP_AUTHORIZATION")


def api_middleware():
    """settings.MIDDLEWARE without the web's own, in the same order."""
    return [path for path in settings.MIDDLEWARE if path not in WEB_ONLY_MIDDLEWARE]


def carries_token(environ):
    """Whether a request (its WSGI environ) is an API call that carries a token."""
    return environ.get("PATH_INFO", "").startswith("/api/") and any(
        header in environ for header in TOKEN_HEADERS
    )


class TokenAPIStack:
    """A handler's `load_middleware` over `api_middleware()` (synchronous only)."""

    def load_middleware(self, is_async=False):
        if is_async:
            raise ImproperlyConfigured("The token API stack serves WSGI only.")
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(api_middleware()):
            try:
                middleware = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


class TokenAPIWSGIHandler(TokenAPIStack, WSGIHandler):
    """Django's WSGI handler with the token API stack."""


# The reads answered ahead of Django's dispatch (atlas.fastpath.Route).
FAST_ROUTES = ["states.api.fast.STATE_READ", "states.api.fast.STATE_DOWNLOAD"]


def fast_path():
    """The fast path over the reads above, reviewed against the token API stack."""
    return FastPath(FAST_ROUTES, api_middleware())


class AtlasWSGIApplication:
    """The WSGI application: token API calls take the fast path where it
    answers, else the short stack; the rest the web's."""

    def __init__(self, web=None):
        self.web = web or WSGIHandler()
        self.api = TokenAPIWSGIHandler()
        self.fast = fast_path()

    def __call__(self, environ, start_response):
        if not carries_token(environ):
            return self.web(environ, start_response)
        matched = self.fast.match(environ)
        if matched is not None:
            # As WSGIHandler does before any query; the stack repeats it
            # (harmlessly) when the fast path declines.
            set_script_prefix(get_script_name(environ))
            signals.request_started.send(sender=self.api.__class__, environ=environ)
            response = self.fast.answer(environ, matched)
            if response is not None:
                return self._respond(response, start_response)
        return self.api(environ, start_response)

    def _respond(self, response, start_response):
        """What WSGIHandler does with a response (request_finished comes with its close())."""
        response._handler_class = self.api.__class__
        status = f"{response.status_code} {response.reason_phrase}"
        start_response(status, list(response.items()))
        return response
