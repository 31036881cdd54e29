"""Guards for the web views: the failure throttle as a page, and sudo mode.

Sudo mode follows healthchecks' `require_sudo_mode`: sensitive actions need a
password typed recently, not just a session that may be days old, and the
second factor too for people who sign in with one. The time of the last
confirmation lives in the session; signing in sets it.
"""

import time
from functools import partial, wraps

from django.conf import settings
from django.shortcuts import render, resolve_url
from rest_framework.exceptions import Throttled

from . import throttle, twofactor

SUDO_SESSION_KEY = "atlas_sudo_at"
SUDO_PASSWORD_FIELD = "sudo_password"
SUDO_CODE_FIELD = "sudo_code"
# Fields of the original form that the password page must not carry along.
NOT_CARRIED = {"csrfmiddlewaretoken", SUDO_PASSWORD_FIELD, SUDO_CODE_FIELD}


def throttled_page(view):
    """Answer DRF's `Throttled` (from the failure throttle) with a 429 page.

    The web and the API count failed passwords in one place
    (accounts.throttle); that code speaks DRF, the web speaks HTML.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Throttled as exc:
            response = render(request, "429.html", {"wait": exc.wait}, status=429)
            if exc.wait:
                response["Retry-After"] = str(int(exc.wait))
            return response

    return wrapper


def confirm_sudo(request):
    """Record that the user has just proved their password."""
    request.session[SUDO_SESSION_KEY] = int(time.time())


def sudo_active(request):
    confirmed = request.session.get(SUDO_SESSION_KEY)
    if not isinstance(confirmed, int):
        return False
    return 0 <= time.time() - confirmed < settings.ATLAS_SUDO_SECONDS


def _carried_fields(post):
    return [
        (name, value)
        for name, values in post.lists()
        if name not in NOT_CARRIED
        for value in values
    ]


def _confirmed(request, needs_code):
    """Whether the posted password (and code, when `needs_code`) are right;
    wrong ones count toward the failure throttle."""
    password = request.POST.get(SUDO_PASSWORD_FIELD, "")
    if not throttle.confirm_password(request, request.user, password):
        return False
    if not needs_code:
        return True
    code = request.POST.get(SUDO_CODE_FIELD, "")
    return twofactor.confirm_code(request, request.user, code) is not None


def require_sudo_mode(view=None, *, cancel="accounts:dashboard"):
    """Ask for the password (and the second factor) again when they were
    last given too long ago.

    Meant for POST views. The password page carries the original form's
    fields along as hidden inputs, so once the password is right the view
    runs with what the user first submitted: nothing is typed twice. Wrong
    passwords count toward the failure throttle; wrap the view
    in `throttled_page` too. `cancel` names the URL the page's Cancel leads to.
    """
    if view is None:
        return partial(require_sudo_mode, cancel=cancel)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if sudo_active(request):
            return view(request, *args, **kwargs)
        needs_code = twofactor.is_enabled(request.user)
        error = None
        if SUDO_PASSWORD_FIELD in request.POST:
            if _confirmed(request, needs_code):
                confirm_sudo(request)
                request.POST = request.POST.copy()
                for field in (SUDO_PASSWORD_FIELD, SUDO_CODE_FIELD):
                    request.POST.pop(field, None)
                return view(request, *args, **kwargs)
            error = (
                "That password or code is not right. Try again."
                if needs_code
                else "That password is not right. Try again."
            )
        context = {
            "carried": _carried_fields(request.POST),
            "error": error,
            "cancel_url": resolve_url(cancel),
            "needs_code": needs_code,
        }
        return render(request, "accounts/sudo.html", context)

    return wrapper
