"""API tokens: how they are made, recognised, hashed and checked.

A token reads `<public_id>.atlasv1.<random><checksum>`:
- `public_id`: 16 random base62 characters, the indexed lookup key;
- `random`: 43 base62 characters from `secrets` (256 bits);
- `checksum`: 6 base62 characters of CRC32 over everything before it, so a
  leaked token can be recognised offline and typos are rejected without a
  database query.
The database keeps only HMAC-SHA256 of the secret under a key derived from the
server key ring, with that key's id, and compares digests in constant time.
"""

import hmac
import secrets
import zlib
from dataclasses import dataclass
from datetime import timedelta
from hashlib import sha256

from django.db import transaction
from django.utils import timezone

from atlas.keys import UnknownKey, key_ring

from . import audit
from .models import Token

MARKER = ".atlasv1."
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PUBLIC_ID_LENGTH = 16
RANDOM_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6
LAST_USED_RESOLUTION = timedelta(minutes=1)
HASH_PURPOSE = "token-digest"


def _random_base62(length):
    return "".join(secrets.choice(BASE62) for _ in range(length))


def _base62(number, width):
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))


def checksum(text):
    return _base62(zlib.crc32(text.encode()), CHECKSUM_LENGTH)


@dataclass(frozen=True)
class ParsedToken:
    public_id: str
    secret: str


def parse(text):
    """Split a token's text, or None when it is not a well-formed token."""
    if not text or len(text) > 200:
        return None
    public_id, marker, secret = text.partition(MARKER)
    if not marker or len(public_id) != PUBLIC_ID_LENGTH:
        return None
    if len(secret) != RANDOM_LENGTH + CHECKSUM_LENGTH:
        return None
    if any(char not in BASE62 for char in public_id + secret):
        return None
    body, check = text[:-CHECKSUM_LENGTH], secret[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(body), check):
        return None
    return ParsedToken(public_id, secret)


def looks_like_token(text):
    """True for text that carries a valid token checksum (leak scanners)."""
    return parse(text) is not None


def digest(secret, key_id):
    key = key_ring().derive(HASH_PURPOSE, key_id)
    return hmac.new(key, secret.encode(), sha256).hexdigest()


@transaction.atomic
def issue(user, *, description="", read_only=False, expires_at=None, kind=Token.Kind.USER):
    """Create a token for `user`; returns (token, text). The text is never stored."""
    public_id = _random_base62(PUBLIC_ID_LENGTH)
    body = f"{public_id}{MARKER}{_random_base62(RANDOM_LENGTH)}"
    text = body + checksum(body)
    secret = text.partition(MARKER)[2]
    key_id = key_ring().current
    token = Token.objects.create(
        public_id=public_id,
        user=user,
        kind=kind,
        digest=digest(secret, key_id),
        key_id=key_id,
        description=description,
        read_only=read_only,
        expires_at=expires_at,
    )
    if kind == Token.Kind.USER:
        audit.record(
            "token.create",
            obj=token,
            name=description or public_id,
            actor=user,
            after={"read_only": read_only, "expires_at": expires_at and expires_at.isoformat()},
        )
    return token, text


def authenticate(text, now=None):
    """The active token that `text` names, or None. One query on the hot path.

    Unknown id, wrong secret, revoked, expired and inactive user all give
    None: the caller answers every one of them the same way.
    """
    parsed = parse(text)
    if parsed is None:
        return None
    token = (
        Token.objects.select_related("user", "user__namespace")
        .filter(public_id=parsed.public_id)
        .first()
    )
    if token is None:
        return None
    try:
        expected = digest(parsed.secret, token.key_id)
    except UnknownKey:
        return None
    if not hmac.compare_digest(expected, token.digest):
        return None
    now = now or timezone.now()
    if token.is_revoked or token.is_expired(now) or not token.user.is_active:
        return None
    _touch(token, parsed.secret, now)
    return token


def _touch(token, secret, now):
    """Record use at most once a minute, and move the digest to the current key."""
    current = key_ring().current
    fields = {}
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        fields["last_used_at"] = now
    if token.key_id != current:
        fields["key_id"] = current
        fields["digest"] = digest(secret, current)
    if fields:
        Token.objects.filter(pk=token.pk).update(**fields)
        for name, value in fields.items():
            setattr(token, name, value)


def revoke(token, now=None):
    """Revoke a token; the very next request with it is refused."""
    with transaction.atomic():
        updated = Token.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now or timezone.now()
        )
        if updated and token.kind == Token.Kind.USER:
            audit.record("token.revoke", obj=token, name=token.description or token.public_id)
    token.refresh_from_db(fields=["revoked_at"])
    return updated == 1


def expiry_allowed(expires_at):
    """Whether a new token may expire at `expires_at`: never (None), or at a
    moment still to come. The web form and the API both ask this."""
    return expires_at is None or expires_at > timezone.now()
