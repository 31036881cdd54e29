"""Two-factor sign-in: enrolment, verification, recovery codes, QR codes.

The web sign-in, /admin/ (which signs in through the same page), sudo mode
and the API's token creation all ask `verify()`; nothing else checks codes.
"""

import io
import secrets
from urllib.parse import quote

import segno
from django.conf import settings
from django.db import transaction

from accounts import audit, throttle
from atlas.keys import key_ring

from .models import RecoveryCode, RecoveryCodeDevice, TotpDevice, code_digest

RECOVERY_CODES = 10
SECRET_BYTES = 20


def device_classes():
    return (TotpDevice, RecoveryCodeDevice)


def is_enabled(user):
    """Whether `user` signs in with a second factor (a confirmed authenticator app)."""
    if user is None or not user.is_authenticated:
        return False
    return TotpDevice.objects.filter(user=user, confirmed=True).exists()


def pending_device(user):
    """The authenticator app being set up (not yet confirmed), if any."""
    return TotpDevice.objects.filter(user=user, confirmed=False).first()


@transaction.atomic
def start_enrolment(user):
    """A new unconfirmed authenticator app for `user`, replacing any earlier attempt."""
    TotpDevice.objects.filter(user=user, confirmed=False).delete()
    device = TotpDevice(user=user, name="Authenticator app", confirmed=False)
    device.set_secret(secrets.token_bytes(SECRET_BYTES))
    device.save()
    return device


def provisioning_uri(device):
    """The otpauth:// URI an authenticator app reads from the QR code."""
    issuer = settings.ATLAS_TOTP_ISSUER
    label = quote(f"{issuer}:{device.user.username}", safe="")
    return (
        f"otpauth://totp/{label}?secret={device.base32_secret}"
        f"&issuer={quote(issuer, safe='')}&algorithm=SHA1&digits=6&period=30"
    )


def qr_svg(text):
    """An SVG document of a QR code for `text`, served as an image of its own
    (no script, no style: nothing a strict Content-Security-Policy refuses)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer, kind="svg", scale=5, border=2, xmldecl=False, dark="#111", light="#fff"
    )
    return buffer.getvalue()


def new_recovery_codes(user, record=True):
    """Replace `user`'s recovery codes with ten new ones; returns their text (shown once)."""
    codes = [_format(secrets.token_hex(5)) for _ in range(RECOVERY_CODES)]
    key_id = key_ring().current
    with transaction.atomic():
        RecoveryCodeDevice.objects.filter(user=user).delete()
        device = RecoveryCodeDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
        RecoveryCode.objects.bulk_create(
            RecoveryCode(device=device, digest=code_digest(code, key_id), key_id=key_id)
            for code in codes
        )
        if record:
            audit.record("user.recovery_codes_new", obj=user, actor=user)
    return codes


def _format(raw):
    return f"{raw[:5]}-{raw[5:]}"


def recovery_codes_left(user):
    return RecoveryCode.objects.filter(device__user=user).count()


@transaction.atomic
def confirm_enrolment(device, code):
    """Confirm the app with a code it shows; returns the recovery codes, or None."""
    if not device.verify_token(code):
        return None
    TotpDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record("user.two_factor_enable", obj=device.user, actor=device.user)
    return new_recovery_codes(device.user, record=False)


@transaction.atomic
def disable(user):
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCodeDevice.objects.filter(user=user).delete()
    audit.record("user.two_factor_disable", obj=user, actor=user)


def verify(user, code):
    """The device that accepts `code` (an app's code or a recovery code), or None.

    Codes of six digits are tried against the authenticator app, others as
    recovery codes; each device throttles its own failures, and a used
    recovery code is gone.
    """
    code = str(code or "").strip()
    if not code or user is None or not user.is_authenticated:
        return None
    compact = "".join(code.split())
    model = TotpDevice if compact.isdigit() and len(compact) == 6 else RecoveryCodeDevice
    with transaction.atomic():
        for device in model.objects.select_for_update().filter(user=user, confirmed=True):
            if device.verify_token(code):
                return device
    return None


def count_using_key(key_id):
    return TotpDevice.objects.filter(secret_key_id=key_id).count()


def reseal_all():
    """Re-seal every authenticator secret not under the current key; the count done."""
    current = key_ring().current
    done = 0
    for pk in TotpDevice.objects.exclude(secret_key_id=current).values_list("pk", flat=True):
        with transaction.atomic():
            device = TotpDevice.objects.select_for_update().filter(pk=pk).first()
            if device is None or device.secret_key_id == current:
                continue
            device.set_secret(device.secret)
            device.save(update_fields=["secret_sealed", "secret_key_id"])
            done += 1
    return done


def required_by_an_organization(user):
    """Whether an organization `user` belongs to requires two-factor sign-in."""
    return user.memberships.filter(organization__require_two_factor=True).exists()


class SecondFactorNeeded(Exception):
    """Creating a token needs a second factor the caller did not give."""

    def __init__(self, message, enrol=False):
        self.enrol = enrol
        super().__init__(message)


CODE_NEEDED = "Enter a code from your authenticator app or a recovery code."
CODE_WRONG = "That code is not right, or was used already."
ENROL_NEEDED = (
    "An organization you belong to requires two-factor sign-in: "
    "set it up in your account settings before creating tokens."
)


def confirm_code(request, user, code):
    """The device that accepts `code`, or None: `verify`, with wrong codes
    counted by the failure throttle like wrong passwords of the same account
    (accounts.throttle), and refused (429) past its limit."""
    identity = throttle.login_identity(user.get_username())
    throttle.refuse_if_throttled(request, identity)
    device = verify(user, code)
    if device is None:
        throttle.record_failure(request, identity)
    return device


def check_token_creation(request, user, code):
    """Refuse to create a token without a second factor where one is due.

    A user with two-factor sign-in gives a code (the web's sudo mode asks
    for it; the API takes it in the body); a user whose organization
    requires it and who has none cannot create tokens until they set it up.
    """
    if is_enabled(user):
        if not code:
            raise SecondFactorNeeded(CODE_NEEDED)
        if confirm_code(request, user, code) is None:
            raise SecondFactorNeeded(CODE_WRONG)
    elif must_enrol_before_tokens(user):
        raise SecondFactorNeeded(ENROL_NEEDED, enrol=True)


def must_enrol_before_tokens(user):
    """Whether `user` must set up two-factor sign-in before creating tokens."""
    return not is_enabled(user) and required_by_an_organization(user)
