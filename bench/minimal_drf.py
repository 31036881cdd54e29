"""Calibration: a minimal DRF view with one query and a stored MD5.

The floor of any Django + DRF endpoint on this machine: no middleware, no
authentication class, one indexed SQL query for the token's row (by its
public id, on the same database file; the header is then compared by hand),
the body read once at start and answered with its Content-Length, as the
server and the bare app answer. Not a competitor: it shows
how much of the gap to the bare WSGI app is the framework's own.
Run as `DJANGO_SETTINGS_MODULE=bench.minimal_drf gunicorn bench.minimal_drf:application`.
"""

import base64
import hashlib
import hmac
import os
from pathlib import Path

SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(Path(os.environ.get("ATLAS_DATA_DIR", "/tmp")) / "db.sqlite3"),
        # Persistent, as the server's (DATABASE_CONN_MAX_AGE).
        "CONN_MAX_AGE": 60,
    }
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
USE_TZ = True

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

TOKEN = os.environ.get("BENCH_TOKEN", "").encode()
BODY = Path(os.environ["BENCH_BODY"]).read_bytes() if os.environ.get("BENCH_BODY") else b"{}"
MD5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()


class State(APIView):
    def get(self, request, username, name):
        given = request.META.get("HTTP_X_ATLAS_TOKEN", "")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, user_id, digest, key_id, revoked_at, expires_at "
                "FROM accounts_token WHERE public_id = %s",
                [given.partition(".")[0]],
            )
            row = cursor.fetchone()
        if row is None or not hmac.compare_digest(given.encode(), TOKEN):
            return HttpResponse(status=401)
        response = HttpResponse(BODY, content_type="application/json")
        response["Content-MD5"] = MD5
        response["Content-Length"] = str(len(BODY))
        return response


urlpatterns = [path("api/v1/terraform/state/<str:username>/<str:name>", State.as_view())]
