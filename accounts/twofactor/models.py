"""Second factors: an authenticator app (TOTP) and single-use recovery codes.

Both are django-otp devices (its throttling, `django_otp.login` and the
OTP middleware apply), with their secrets protected at rest: the TOTP
secret is sealed (atlas.sealing) and recovery codes are kept only as keyed
digests, like API tokens.
"""

import hmac
import time
from base64 import b32encode
from hashlib import sha256

from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from atlas.keys import UnknownKey, key_ring
from atlas.sealing import seal, unseal

SECRET_PURPOSE = "totp-secrets"
CODE_PURPOSE = "recovery-code-digest"
STEP = 30
DIGITS = 6
# One time step either side: codes stay valid across a little clock skew.
TOLERANCE = 1


class TotpDevice(ThrottlingMixin, TimestampMixin, Device):
    """An authenticator app, sharing a 160-bit secret with the server.

    A code is accepted once: the next one must belong to a later time step.
    """

    secret_sealed = models.TextField(editable=False)
    secret_key_id = models.CharField(max_length=32, editable=False)
    last_t = models.BigIntegerField(default=-1, editable=False)

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    def _ad(self):
        return f"totp:{self.user_id}"

    def set_secret(self, secret):
        self.secret_sealed, self.secret_key_id = seal(secret.hex(), self._ad(), SECRET_PURPOSE)

    @property
    def secret(self):
        return bytes.fromhex(
            unseal(self.secret_sealed, self.secret_key_id, self._ad(), SECRET_PURPOSE)
        )

    @property
    def base32_secret(self):
        return b32encode(self.secret).decode()

    def totp(self, at=None):
        counter = TOTP(self.secret, step=STEP, digits=DIGITS)
        counter.time = time.time() if at is None else at
        return counter

    def verify_token(self, token):
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        token = "".join(str(token).split())
        verified = False
        if token.isdigit() and len(token) == DIGITS:
            counter = self.totp()
            verified = counter.verify(int(token), TOLERANCE, self.last_t + 1)
            if verified:
                self.last_t = counter.t()
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    def get_throttle_factor(self):
        return 1


def code_digest(code, key_id):
    key = key_ring().derive(CODE_PURPOSE, key_id)
    return hmac.new(key, normalize_code(code).encode(), sha256).hexdigest()


def normalize_code(code):
    """Recovery codes are read and typed by people: ignore case, spaces and dashes."""
    return "".join(ch for ch in str(code).lower() if ch.isalnum())


class RecoveryCodeDevice(ThrottlingMixin, TimestampMixin, Device):
    """A user's set of single-use recovery codes (RecoveryCode rows)."""

    class Meta(Device.Meta):
        verbose_name = "recovery codes"
        verbose_name_plural = "recovery codes"

    def verify_token(self, token):
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        match = None
        for code in self.codes.all():
            try:
                expected = code_digest(token, code.key_id)
            except UnknownKey:
                continue
            if hmac.compare_digest(expected, code.digest):
                match = code
        if match is None:
            self.throttle_increment(commit=True)
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True

    def get_throttle_factor(self):
        return 1


class RecoveryCode(models.Model):
    """One unused recovery code, as a keyed digest; used codes are deleted."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64, editable=False)
    key_id = models.CharField(max_length=32, editable=False)

    def __str__(self):
        return f"recovery code of {self.device.user}"
