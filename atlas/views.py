"""Project-wide views: JSON error handlers for /api/, the health check, the icon."""

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error

from accounts.access import ANYONE, TwoFactorRequired, declares, rule
from atlas.api import jsonapi
from atlas.api.exceptions import NOT_FOUND_MESSAGE, json_error


def _is_api(request):
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    if request.path.startswith("/api/v2/"):
        return jsonapi.json_error(404, NOT_FOUND_MESSAGE)
    if _is_api(request):
        return json_error(404, NOT_FOUND_MESSAGE)
    return page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return json_error(500, "Internal server error.")
    return server_error(request)


def handler400(request, exception=None):
    if _is_api(request):
        return json_error(400, "Bad request.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return json_error(403, "You may not do this.")
    context = {
        "exception": str(exception or ""),
        "two_factor_required": isinstance(exception, TwoFactorRequired),
    }
    return render(request, "403.html", context, status=403)


@declares(rule(GET=ANYONE))
def favicon(request):
    """Browsers ask for /favicon.ico whatever a page links to."""
    return redirect(static("atlas/favicon.svg"), permanent=True)


def health(request):
    """200 when the database answers: for load balancers and `make serve`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# Any method, anyone: the answer is the same 404 for all.
EVERY_METHOD = {m: ANYONE for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}


@csrf_exempt
@declares(rule(**EVERY_METHOD))
def api_not_found(request):
    """Anything under /api/ that no route matches, other versions included."""
    return json_error(404, NOT_FOUND_MESSAGE)


@csrf_exempt
@declares(rule(**EVERY_METHOD))
def api_v2_not_found(request):
    """Anything under /api/v2/ that no route matches, as a JSON:API error."""
    return jsonapi.json_error(404, NOT_FOUND_MESSAGE)
