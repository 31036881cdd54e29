"""WSGI entry point, as gunicorn loads it.

API calls that carry a token go through a shorter middleware stack than
the web pages (atlas.handlers).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas.settings")

# Sets Django up (settings, apps) before the handlers below are made.
_web = get_wsgi_application()

from atlas.handlers import AtlasWSGIApplication  # noqa: E402

application = AtlasWSGIApplication(_web)
