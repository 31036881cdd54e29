"""Middleware for the web pages only; the API's responses pass through unchanged.

Compression. Pages are compressed with Django's GZipMiddleware, which pads
each response with random bytes (Heal The BREACH). BREACH guesses a secret
from the compressed size of responses that carry both the secret and text
the attacker chose, so what may be compressed is decided here:

- CSRF tokens are masked with a fresh random value in every response (Django
  does this), so no two responses carry the same bytes for them;
- the session cookie is `SameSite=Lax`: another site's requests (scripts,
  images, frames) reach these pages without it, so they cannot make a
  signed-in page reflect their text;
- a response that shows a secret (a new token, a webhook's signing secret,
  recovery codes) is `Cache-Control: no-store`, and such responses are sent
  uncompressed; so are downloads (`Content-Disposition`), whose bodies are
  state, archives and logs rather than pages;
- /api/ is never touched: clients there get exactly what the API writes.

POST-only URLs. A person who reloads the page a form's POST answered, or
follows a bookmark to it, sends a GET to an action's URL. Instead of a blank
405 they are sent to the page the action belongs to: the nearest ancestor
path that is a page (`/environments/acme/app/variables/7/delete` leads to
`/environments/acme/app/variables`).
"""

from django.http import HttpResponseRedirect
from django.middleware.gzip import GZipMiddleware
from django.urls import Resolver404, resolve

NOT_PAGES = ("/api/", "/admin/", "/.well-known/")


def is_page_request(request):
    return not request.path.startswith(NOT_PAGES)


class PageGZipMiddleware(GZipMiddleware):
    """Django's GZipMiddleware, for pages that show no secret (see above)."""

    def process_response(self, request, response):
        if not is_page_request(request):
            return response
        if "no-store" in response.get("Cache-Control", ""):
            return response
        if response.has_header("Content-Disposition"):
            return response
        return super().process_response(request, response)


def page_above(path, urlconf=None):
    """The nearest ancestor of `path` that a URL pattern serves; "/" at worst."""
    parts = [part for part in path.split("/") if part]
    for end in range(len(parts) - 1, 0, -1):
        candidate = "/" + "/".join(parts[:end])
        try:
            resolve(candidate, urlconf)
        except Resolver404:
            continue
        return candidate
    return "/"


class PostOnlyRedirectMiddleware:
    """A GET to a web action that only accepts POST goes to its page instead.

    When that page is itself an action (a form's URL one level up), the
    browser's next GET climbs again: every step is a shorter path.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.method in ("GET", "HEAD")
            and is_page_request(request)
        ):
            return HttpResponseRedirect(page_above(request.path, getattr(request, "urlconf", None)))
        return response
