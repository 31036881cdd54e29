"""Setting up two-factor sign-in: an authenticator app and recovery codes.

Every change asks for the password (and, once enabled, a code) again
through sudo mode. The QR code is an SVG image of its own URL: the page
carries no inline script or style.
"""

import django_otp
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from .. import twofactor
from ..access import SIGNED_IN, guard, rule
from ..decorators import confirm_sudo, require_sudo_mode, throttled_page
from ..forms import CodeForm
from ..sessions import end_sessions


def _page(request, form=None, codes=None):
    user = request.user
    device = None if twofactor.is_enabled(user) else twofactor.pending_device(user)
    context = {
        "enabled": twofactor.is_enabled(user),
        "device": device,
        "form": form or CodeForm(),
        "codes": codes,
        "codes_left": twofactor.recovery_codes_left(user),
        "required": twofactor.required_by_an_organization(user),
    }
    if device is not None:
        context["secret"] = " ".join(
            device.base32_secret[i : i + 4] for i in range(0, len(device.base32_secret), 4)
        )
    return render(request, "accounts/two_factor.html", context)


@guard(rule(GET=SIGNED_IN))
@never_cache
def overview(request):
    return _page(request)


@guard(rule(POST=SIGNED_IN))
@never_cache
@throttled_page
@require_sudo_mode(cancel="accounts:two-factor")
def start(request):
    """A new secret to scan; it counts once a code from it is confirmed."""
    twofactor.start_enrolment(request.user)
    return redirect("accounts:two-factor")


@guard(rule(GET=SIGNED_IN))
@never_cache
def qr_code(request):
    """The QR code of the secret being set up, as an SVG image."""
    device = twofactor.pending_device(request.user)
    if device is None:
        raise Http404
    svg = twofactor.qr_svg(twofactor.provisioning_uri(device))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response


@guard(rule(POST=SIGNED_IN))
@never_cache
@throttled_page
def confirm(request):
    """Confirm the app with a code it shows: two-factor sign-in is on, this
    session counts as verified, every other session ends, and the ten
    recovery codes are shown, once."""
    device = twofactor.pending_device(request.user)
    if device is None:
        return redirect("accounts:two-factor")
    form = CodeForm(request.POST)
    codes = None
    if form.is_valid():
        codes = twofactor.confirm_enrolment(device, form.cleaned_data["code"])
    if codes is None:
        form.add_error(
            "code", "That code is not right. Check the time on your phone and try again."
        )
        return _page(request, form=form)
    device.refresh_from_db()
    django_otp.login(request, device)
    confirm_sudo(request)
    end_sessions(request.user, keep=request.session.session_key)
    messages.success(request, "Two-factor sign-in is on. Keep your recovery codes somewhere safe.")
    return _page(request, codes=codes)


@guard(rule(POST=SIGNED_IN))
@never_cache
@throttled_page
@require_sudo_mode(cancel="accounts:two-factor")
def new_codes(request):
    if not twofactor.is_enabled(request.user):
        return redirect("accounts:two-factor")
    codes = twofactor.new_recovery_codes(request.user)
    messages.success(request, "New recovery codes: the old ones no longer work.")
    return _page(request, codes=codes)


@guard(rule(POST=SIGNED_IN))
@throttled_page
@require_sudo_mode(cancel="accounts:two-factor")
def disable(request):
    if twofactor.is_enabled(request.user):
        twofactor.disable(request.user)
        messages.success(request, "Two-factor sign-in is off.")
    return redirect("accounts:two-factor")
