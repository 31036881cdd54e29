"""Web sessions a person can list and end.

The database session engine, with each session row also naming its user,
the address and browser it was opened from and when it was last seen, so
the account page lists one's own sessions and ends any of them. Set as
SESSION_ENGINE; `accounts.middleware.RequestContextMiddleware` hands it the
address and browser of the request.
"""

import hashlib
from datetime import UTC, datetime, timedelta

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone

# A session's "last seen" is written at most this often (not on every request).
SEEN_RESOLUTION = timedelta(minutes=5)
SEEN_KEY = "atlas_seen_at"
# When the user signed in to this session (a timestamp in the session's data).
OPENED_KEY = "atlas_opened_at"


class WebSession(AbstractBaseSession):
    """A browser's session, with who opened it, from where and when."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, null=True, related_name="web_sessions"
    )
    address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta(AbstractBaseSession.Meta):
        db_table = "accounts_web_session"

    @classmethod
    def get_session_store_class(cls):
        return SessionStore

    @property
    def public_id(self):
        """A name for the session that reveals nothing of its key (the cookie)."""
        return public_id(self.session_key)


def public_id(session_key):
    return hashlib.sha256(session_key.encode()).hexdigest()[:20]


class SessionStore(DatabaseStore):
    """Django's database sessions, writing the columns above on every save."""

    address = ""
    user_agent = ""

    @classmethod
    def get_model_class(cls):
        return WebSession

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        instance.user_id = int(user_id) if user_id is not None and str(user_id).isdigit() else None
        instance.address = self.address[:64]
        instance.user_agent = self.user_agent[:300]
        instance.last_seen_at = timezone.now()
        opened = data.get(OPENED_KEY)
        if isinstance(opened, int):
            instance.created_at = datetime.fromtimestamp(opened, tz=UTC)
        return instance


def sessions_of(user):
    """The user's unexpired web sessions, most recently seen first."""
    return WebSession.objects.filter(user=user, expire_date__gt=timezone.now()).order_by(
        "-last_seen_at"
    )


def end_sessions(user, keep=None):
    """End every session of `user` except the session key `keep`; the count ended."""
    sessions = WebSession.objects.filter(user=user)
    if keep:
        sessions = sessions.exclude(session_key=keep)
    return sessions.delete()[0]
