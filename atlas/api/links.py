"""Absolute URLs handed to clients (upload URLs, discovery, downloads)."""

from django.conf import settings
from django.urls import get_script_prefix


def absolute_url(request, path):
    """`path` as an absolute URL: under ATLAS_EXTERNAL_URL when set, otherwise
    from the request (whose host and scheme honour a proxy's forwarded
    headers only when ATLAS_TRUST_PROXY_HEADERS is on)."""
    if settings.EXTERNAL_URL:
        return f"{settings.EXTERNAL_URL}/{path[len(get_script_prefix()) :]}"
    return request.build_absolute_uri(path)
