"""Settings for the Atlas server.

Everything an operator may change comes from an environment variable with a
safe default, read through the small helpers below that fail loudly on bad
values. The embedded default needs none of them: SQLite and blobs in the data
directory, keys generated there on first start.
"""

import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from atlas.datadir import private_directory, private_sqlite_files

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name):
    """Comma-separated addresses or CIDR networks, e.g. `10.0.0.5,192.168.0.0/24`."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks, got {item!r}"
            ) from None
    return networks


# Everything the server keeps (database, WAL, blobs, keys) is readable by its
# own user only, whatever the umask and whatever already existed.
DATA_DIR = private_directory(Path(env_str("ATLAS_DATA_DIR", str(BASE_DIR / "var"))).resolve())


def _secret_key_from_data_dir():
    """Read the secret key kept in the data directory, creating it once.

    O_EXCL makes the first of several processes starting together the only
    writer; the others read what it wrote.
    """
    path = DATA_DIR / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_urlsafe(50)
        handle.write(key)
    return key


SECRET_KEY = env_str("SECRET_KEY") or _secret_key_from_data_dir()
DEBUG = env_bool("DEBUG", False)

EXTERNAL_URL = env_str("ATLAS_EXTERNAL_URL").rstrip("/")
# Where `manage.py serve` (`make serve`) listens, and its gunicorn processes.
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000)
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 3)
# `make serve` over HTTPS with a local CA kept in the data directory (atlas/tls.py).
ATLAS_SERVE_TLS = env_bool("ATLAS_SERVE_TLS", False)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
if EXTERNAL_URL:
    from urllib.parse import urlsplit

    _external_host = urlsplit(EXTERNAL_URL).hostname
    if _external_host and _external_host not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_external_host)
    CSRF_TRUSTED_ORIGINS = [f"{urlsplit(EXTERNAL_URL).scheme}://{urlsplit(EXTERNAL_URL).netloc}"]

# Reverse proxies whose X-Forwarded-For/-Host/-Proto are believed: the client
# address (for the failure throttle) and the host and scheme of absolute URLs
# (upload_path) come from them only when the request arrives from one of
# these; from anyone else the headers are dropped (atlas.proxies).
ATLAS_TRUSTED_PROXIES = env_networks("ATLAS_TRUSTED_PROXIES")
if env_bool("ATLAS_TRUST_PROXY_HEADERS", False):
    raise ImproperlyConfigured(
        "ATLAS_TRUST_PROXY_HEADERS is replaced by ATLAS_TRUSTED_PROXIES: list the addresses "
        "or networks of the proxies in front of the server, e.g. ATLAS_TRUSTED_PROXIES=127.0.0.1"
    )
if ATLAS_TRUSTED_PROXIES:
    USE_X_FORWARDED_HOST = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "atlas.apps.AtlasAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "atlas",
    "accounts",
    "environments",
    "states",
    "runs",
]

MIDDLEWARE = [
    "atlas.middleware.DatabaseUnavailableMiddleware",
    "atlas.middleware.TrustedProxyMiddleware",
    "atlas.api.jsonapi.VersionHeaderMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages (not /api/) compressed, with BREACH in mind: see atlas/web.py.
    "atlas.web.PageGZipMiddleware",
    # The security headers wrap everything below, refusals included.
    "atlas.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "atlas.middleware.QueryStringTokenMiddleware",
    "atlas.middleware.HostileTextMiddleware",
    "atlas.middleware.BodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "atlas.web.PostOnlyRedirectMiddleware",
]

ROOT_URLCONF = "atlas.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "atlas.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    private_sqlite_files(DATABASES["default"]["NAME"])
    # WAL and a busy timeout let the web server and the worker share the file;
    # IMMEDIATE transactions take the write lock up front, so two writers
    # queue instead of failing halfway with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = private_directory(DATA_DIR / "static")
# Blobs on disk: files 0600 in directories 0700, whatever the umask.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(private_directory(DATA_DIR / "blobs"))},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
if env_str("ATLAS_S3_BUCKET"):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("ATLAS_S3_BUCKET"),
            "endpoint_url": env_str("ATLAS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("ATLAS_S3_REGION") or None,
            "access_key": env_str("ATLAS_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("ATLAS_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("ATLAS_S3_PREFIX"),
            "file_overwrite": True,
            "default_acl": None,
        },
    }

# Security headers and cookie flags. HTTPS-only flags follow the external URL.
_https = EXTERNAL_URL.startswith("https://")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("ATLAS_SECURE_COOKIES", _https)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("ATLAS_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("ATLAS_HSTS_SECONDS", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every page: scripts, styles, images and fonts from this server's own static
# files only; no inline script or style, no plugins, no framing, forms post
# back here only. htmx's own inline indicator style is switched off in
# base.html, and the API docs page is a template of ours without inline code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "manifest-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
# Database sessions that name their user, address and browser (accounts.sessions).
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_AGE = env_int("ATLAS_SESSION_AGE_SECONDS", 14 * 24 * 3600)
# `check --deploy` asks for HTTPS-only settings. Served over plain HTTP (the
# embedded default on localhost, no https:// ATLAS_EXTERNAL_URL) they cannot
# apply: secure-only cookies would make signing in impossible and HSTS or an
# SSL redirect would lock http://localhost out. Once cookies are secure, the
# site is on HTTPS and nothing is silenced, so operators see the advice.
if not SESSION_COOKIE_SECURE:
    SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008", "security.W012", "security.W016"]

# One limit for every request body except the streamed uploads (state PUT,
# configuration archives), which have their own limits below: larger bodies
# are refused with 413 before a byte is read (atlas.middleware).
ATLAS_MAX_BODY_BYTES = env_int("ATLAS_MAX_BODY_BYTES", 4 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ATLAS_MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
ATLAS_MAX_STATE_BYTES = env_int("ATLAS_MAX_STATE_BYTES", 100 * 1024 * 1024)
ATLAS_MAX_ARCHIVE_BYTES = env_int("ATLAS_MAX_ARCHIVE_BYTES", 100 * 1024 * 1024)
# Configuration archives (terraform push): how long an upload URL lives, and
# the caps on what an archive may expand to (environments/archives.py).
ATLAS_UPLOAD_URL_TTL_SECONDS = env_int("ATLAS_UPLOAD_URL_TTL_SECONDS", 3600)
ATLAS_ARCHIVE_MAX_ENTRIES = env_int("ATLAS_ARCHIVE_MAX_ENTRIES", 10_000)
ATLAS_ARCHIVE_MAX_EXPANDED_BYTES = env_int("ATLAS_ARCHIVE_MAX_EXPANDED_BYTES", 500 * 1024 * 1024)
ATLAS_ARCHIVE_MAX_DEPTH = env_int("ATLAS_ARCHIVE_MAX_DEPTH", 64)
ATLAS_MAX_PARAM_DEPTH = 5
ATLAS_MAX_PARAMS = 1000

# Runs: the Terraform binary, its sandbox, and the worker's timings (runs/conf.py).
ATLAS_TERRAFORM_BIN = env_str("ATLAS_TERRAFORM_BIN")  # default: <venv>/lib/terraform
ATLAS_RUN_SANDBOX = env_str("ATLAS_RUN_SANDBOX", "bwrap")  # bwrap | none
ATLAS_RUN_ADDRESS = env_str("ATLAS_RUN_ADDRESS")  # default: EXTERNAL_URL or http://127.0.0.1:$PORT
ATLAS_RUN_WORK_DIR = env_str("ATLAS_RUN_WORK_DIR")
ATLAS_RUN_HEARTBEAT_SECONDS = env_int("ATLAS_RUN_HEARTBEAT_SECONDS", 5)
ATLAS_RUN_STALE_SECONDS = env_int("ATLAS_RUN_STALE_SECONDS", 60)
ATLAS_RUN_REAP_SECONDS = env_int("ATLAS_RUN_REAP_SECONDS", 10)
ATLAS_RUN_CANCEL_GRACE_SECONDS = env_int("ATLAS_RUN_CANCEL_GRACE_SECONDS", 10)
ATLAS_RUN_PHASE_TIMEOUT_SECONDS = env_int("ATLAS_RUN_PHASE_TIMEOUT_SECONDS", 4 * 3600)
ATLAS_RUN_CONFIRM_TIMEOUT_SECONDS = env_int("ATLAS_RUN_CONFIRM_TIMEOUT_SECONDS", 24 * 3600)
ATLAS_RUN_TOKEN_TTL_SECONDS = env_int("ATLAS_RUN_TOKEN_TTL_SECONDS", 12 * 3600)
# auto (a network of the run's own when pasta is installed, else the worker's) | isolated | host
ATLAS_RUN_NETWORK = env_str("ATLAS_RUN_NETWORK", "auto")
ATLAS_RUN_PLAN_MAX_BYTES = env_int("ATLAS_RUN_PLAN_MAX_BYTES", 256 * 1024 * 1024)
ATLAS_RUN_LOG_MAX_BYTES = env_int("ATLAS_RUN_LOG_MAX_BYTES", 32 * 1024 * 1024)

# Notifications of run events (runs/notifications): where webhooks may go,
# how long one attempt may take, how much of an answer is read, retries, and
# how long a configuration may fail before it is disabled.
ATLAS_NOTIFY_ALLOW_PRIVATE = env_bool("ATLAS_NOTIFY_ALLOW_PRIVATE", False)
ATLAS_NOTIFY_TIMEOUT_SECONDS = env_int("ATLAS_NOTIFY_TIMEOUT_SECONDS", 10)
ATLAS_NOTIFY_MAX_RESPONSE_BYTES = env_int("ATLAS_NOTIFY_MAX_RESPONSE_BYTES", 64 * 1024)
ATLAS_NOTIFY_RETRY_BASE_SECONDS = env_int("ATLAS_NOTIFY_RETRY_BASE_SECONDS", 10)
ATLAS_NOTIFY_RETRY_WINDOW_SECONDS = env_int("ATLAS_NOTIFY_RETRY_WINDOW_SECONDS", 6 * 3600)
ATLAS_NOTIFY_DISABLE_AFTER_SECONDS = env_int("ATLAS_NOTIFY_DISABLE_AFTER_SECONDS", 3 * 24 * 3600)
if ATLAS_NOTIFY_TIMEOUT_SECONDS < 1 or ATLAS_NOTIFY_RETRY_BASE_SECONDS < 1:
    raise ImproperlyConfigured(
        "ATLAS_NOTIFY_TIMEOUT_SECONDS and ATLAS_NOTIFY_RETRY_BASE_SECONDS must be at least 1"
    )

# Email (notifications, and telling admins about a disabled one): printed to
# the worker's output unless an SMTP server is named.
DEFAULT_FROM_EMAIL = env_str("ATLAS_EMAIL_FROM", "atlas@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("ATLAS_SMTP_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("ATLAS_SMTP_PORT", 25)
EMAIL_HOST_USER = env_str("ATLAS_SMTP_USER")
EMAIL_HOST_PASSWORD = env_str("ATLAS_SMTP_PASSWORD")
EMAIL_USE_TLS = env_bool("ATLAS_SMTP_STARTTLS", False)
EMAIL_USE_SSL = env_bool("ATLAS_SMTP_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set ATLAS_SMTP_STARTTLS or ATLAS_SMTP_SSL, not both")
EMAIL_TIMEOUT = ATLAS_NOTIFY_TIMEOUT_SECONDS

# Keys for token digests and blob encryption: a JSON key ring given inline,
# as a file, or generated into the data directory on first start.
ATLAS_KEYS = env_str("ATLAS_KEYS")
ATLAS_KEYS_FILE = env_str("ATLAS_KEYS_FILE") or str(DATA_DIR / "keys.json")

# Failed passwords or tokens per (client address, account or token id) within
# the window before that pair is answered 429 (accounts/throttle.py). Counted
# in the database, or in Redis when ATLAS_REDIS_URL is set, so every web
# process shares the counts.
ATLAS_AUTH_FAILURE_LIMIT = env_int("ATLAS_AUTH_FAILURE_LIMIT", 10)
ATLAS_AUTH_FAILURE_WINDOW = env_int("ATLAS_AUTH_FAILURE_WINDOW", 300)
ATLAS_REDIS_URL = env_str("ATLAS_REDIS_URL")
ATLAS_REDIS_KEY_PREFIX = env_str("ATLAS_REDIS_KEY_PREFIX", "atlas:")
# Re-enter the password (and the second factor) before generating a token
# when the sign-in is older.
ATLAS_SUDO_SECONDS = env_int("ATLAS_SUDO_SECONDS", 300)

# People: sign-up without an invitation (off: only invited people sign up),
# how long invitations, password-reset and email-confirmation links live,
# the time to type the second factor after the password, the name
# authenticator apps show, and how long the audit trail is kept (0: forever).
ATLAS_OPEN_SIGNUP = env_bool("ATLAS_OPEN_SIGNUP", False)
ATLAS_INVITATION_TTL_SECONDS = env_int("ATLAS_INVITATION_TTL_SECONDS", 7 * 24 * 3600)
PASSWORD_RESET_TIMEOUT = env_int("ATLAS_PASSWORD_RESET_TTL_SECONDS", 3600)
ATLAS_EMAIL_CONFIRM_TTL_SECONDS = env_int("ATLAS_EMAIL_CONFIRM_TTL_SECONDS", 24 * 3600)
ATLAS_SIGN_IN_CODE_SECONDS = env_int("ATLAS_SIGN_IN_CODE_SECONDS", 300)
ATLAS_TOTP_ISSUER = env_str("ATLAS_TOTP_ISSUER", "Atlas")
ATLAS_AUDIT_RETENTION_DAYS = env_int("ATLAS_AUDIT_RETENTION_DAYS", 365)
if min(ATLAS_INVITATION_TTL_SECONDS, PASSWORD_RESET_TIMEOUT, ATLAS_SIGN_IN_CODE_SECONDS) < 1:
    raise ImproperlyConfigured("Invitation, password-reset and sign-in times must be positive")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "atlas.api.authentication.AtlasTokenAuthentication",
        "atlas.api.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["atlas.api.permissions.DeclaredAccess"],
    "DEFAULT_PARSER_CLASSES": [
        "atlas.api.parsers.BoundedJSONParser",
        "atlas.api.parsers.RackFormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "atlas.api.pagination.AtlasPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "atlas.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Atlas API v1",
    "DESCRIPTION": "A self-hosted server for the Terraform Enterprise v1 (Atlas) API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "PREPROCESSING_HOOKS": ["atlas.api.schema.drop_undescribed_methods"],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "AtlasToken": {"type": "apiKey", "in": "header", "name": "X-Atlas-Token"}
        }
    },
    "SECURITY": [{"AtlasToken": []}],
    "ENUM_NAME_OVERRIDES": {
        "NotificationKindEnum": "runs.notifications.models.Kind",
        "TokenKindEnum": [("user", "User"), ("run", "Run")],
        "LevelEnum": "accounts.models.Level",
        "MemberLevelEnum": "accounts.models.MemberLevel",
    },
}

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        # Runs' phases, and notifications (taken by a thread of their own).
        "QUEUES": ["default", "notifications"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request warnings name only the path; never the query or headers.
        "django.request": {"level": "ERROR"},
    },
}
