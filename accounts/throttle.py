"""The failure throttle: repeated wrong passwords or tokens get 429, nobody else does.

Failures are counted per (client address, account or token id) within
ATLAS_AUTH_FAILURE_WINDOW seconds. Past ATLAS_AUTH_FAILURE_LIMIT that pair
is answered 429 with Retry-After until its window ends:

- a password is not even checked for a throttled (address, login), so
  guessing one account's password from one address stays slow; other
  accounts, and the same account from other addresses, are untouched;
- a token is always checked, and a valid one is always let in: a token's
  secret is 256 random bits, so there is nothing to guess, and failures of
  others (behind the same proxy or NAT) never lock its holder out. Failed
  tokens are answered 429 instead of 401 past the limit, which tells a
  misconfigured client to stop.

The counts live where every web process sees them: in the database by
default (one row per failing pair, expired rows removed as new failures
come in), in Redis when ATLAS_REDIS_URL is set. The client address is the
peer's, or a trusted proxy's X-Forwarded-For (atlas.proxies).

Every door calls the same three functions: `authenticate_token`,
`authenticate_password` and `confirm_password`.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connection
from rest_framework.exceptions import Throttled

from atlas.proxies import client_address

from . import tokens
from .models import AuthFailureCount

logger = logging.getLogger("atlas.throttle")


class TooManyFailures(Throttled):
    """429: this address failed too often for this account or token."""

    default_detail = "Too many failed attempts from your address."
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


@dataclass(frozen=True)
class Standing:
    """Failures of one (address, identity) in its current window."""

    failures: int
    retry_after: int

    @property
    def throttled(self):
        """Whether the next attempt is refused: `limit` failures are answered as usual."""
        return self.failures >= settings.ATLAS_AUTH_FAILURE_LIMIT


CLEAR = Standing(0, 0)


# What a failure is counted against.


def login_identity(login):
    return f"login:{login.strip().lower()}"


def token_identity(text):
    parsed = tokens.parse(text.strip())
    return f"token:{parsed.public_id}" if parsed else "token:malformed"


def _key(request, identity):
    raw = f"{client_address(request)}\x00{identity}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


# The doors.


def authenticate_token(request, text):
    """The active token `text` names, or None (the failure counted).

    A valid token is never refused. TooManyFailures when this address has
    failed with this token id (or with malformed tokens) past the limit.
    """
    token = tokens.authenticate(text.strip())
    if token is not None:
        return token
    standing = record_failure(request, token_identity(text))
    if standing.failures > settings.ATLAS_AUTH_FAILURE_LIMIT:  # this one is past the limit
        raise TooManyFailures(wait=standing.retry_after)
    return None


def authenticate_password(request, login, password):
    """The user that `login` and `password` name, or None (the failure counted).

    TooManyFailures, before the password is looked at, when this address
    has failed for this login past the limit. A success clears the count.
    """
    identity = login_identity(login)
    refuse_if_throttled(request, identity)
    user = authenticate(request, username=login, password=password)
    if user is None:
        record_failure(request, identity)
    else:
        clear_failures(request, identity)
    return user


def confirm_password(request, user, password):
    """Whether `password` is `user`'s (sudo mode), counted like a sign-in."""
    identity = login_identity(user.get_username())
    refuse_if_throttled(request, identity)
    if user.check_password(password):
        clear_failures(request, identity)
        return True
    record_failure(request, identity)
    return False


# The rule, over whichever store is configured.


def refuse_if_throttled(request, identity):
    standing = store().standing(_key(request, identity))
    if standing.throttled:
        raise TooManyFailures(wait=standing.retry_after)


def record_failure(request, identity):
    """Count one failure; returns the Standing after it."""
    return store().record(_key(request, identity), settings.ATLAS_AUTH_FAILURE_WINDOW)


def clear_failures(request, identity):
    store().clear(_key(request, identity))


def store():
    if settings.ATLAS_REDIS_URL:
        return RedisStore(settings.ATLAS_REDIS_URL, settings.ATLAS_REDIS_KEY_PREFIX)
    return DatabaseStore()


UPSERT = (
    "INSERT INTO {table} (digest, failures, expires_at) VALUES (%s, 1, %s) "
    "ON CONFLICT (digest) DO UPDATE SET "
    "failures = CASE WHEN {table}.expires_at <= %s THEN 1 ELSE {table}.failures + 1 END, "
    "expires_at = CASE WHEN {table}.expires_at <= %s THEN excluded.expires_at "
    "ELSE {table}.expires_at END "
    "RETURNING failures, expires_at"
)


class DatabaseStore:
    """Counts in the AuthFailureCount table: one atomic upsert per failure."""

    def standing(self, key):
        now = time.time()
        row = (
            AuthFailureCount.objects.filter(digest=key, expires_at__gt=now)
            .values_list("failures", "expires_at")
            .first()
        )
        return CLEAR if row is None else Standing(row[0], math.ceil(row[1] - now))

    def record(self, key, window):
        now = time.time()
        AuthFailureCount.objects.filter(expires_at__lte=now).delete()
        # The table's own name, quoted; every value is a parameter. A failure
        # after the window ended starts a new window at 1.
        table = connection.ops.quote_name(AuthFailureCount._meta.db_table)
        upsert = UPSERT.format(table=table)
        with connection.cursor() as cursor:
            cursor.execute(upsert, [key, now + window, now, now])
            failures, expires_at = cursor.fetchone()
        return Standing(failures, math.ceil(expires_at - now))

    def clear(self, key):
        AuthFailureCount.objects.filter(digest=key).delete()


_redis_clients = {}


def _redis(url):
    client = _redis_clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        _redis_clients[url] = client
    return client


class RedisStore:
    """Counts in Redis: a key per pair that expires with its window.

    While Redis cannot be reached the throttle lets requests through (and
    logs it) rather than locking every password out: tokens never depend on
    it, and sign-ins keep working through a Redis restart.
    """

    def __init__(self, url, prefix):
        self.client = _redis(url)
        self.prefix = f"{prefix}auth-failures:"

    def standing(self, key):
        try:
            with self.client.pipeline(transaction=True) as pipe:
                failures, ttl = pipe.get(self.prefix + key).ttl(self.prefix + key).execute()
        except redis.RedisError as exc:
            logger.warning("Redis unavailable to the failure throttle: %s", exc)
            return CLEAR
        return CLEAR if failures is None else Standing(int(failures), max(ttl, 1))

    def record(self, key, window):
        name = self.prefix + key
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=window, nx=True).incr(name).ttl(name)
                _, failures, ttl = pipe.execute()
        except redis.RedisError as exc:
            logger.warning("Redis unavailable to the failure throttle: %s", exc)
            return CLEAR
        return Standing(failures, max(ttl, 1))

    def clear(self, key):
        try:
            self.client.delete(self.prefix + key)
        except redis.RedisError as exc:
            logger.warning("Redis unavailable to the failure throttle: %s", exc)
