"""Answering with a stored state body: exact bytes, stored MD5, never cached."""

from django.http import HttpResponse, StreamingHttpResponse

from .services import open_version, read_version

# Below this a body is decrypted whole before answering, so a damaged blob
# is a clean 500. Above it the body streams, never held whole, in pieces of
# STREAM_SEGMENTS segments of 64 KiB: one file read and one socket write
# each (a 1.4 MB body in 6 rather than 23; larger pieces cost more CPU, see
# atlas.blobs.READ_BLOB_SEGMENTS); a stream cut short is caught by the
# client's MD5 check.
WHOLE_BELOW = 256 * 1024
STREAM_SEGMENTS = 4


def state_response(version, filename=None):
    if version.size < WHOLE_BELOW:
        response = HttpResponse(read_version(version), content_type="application/json")
    else:
        response = StreamingHttpResponse(
            open_version(version, STREAM_SEGMENTS), content_type="application/json"
        )
        response["Content-Length"] = str(version.size)
    response["Content-MD5"] = version.md5_base64
    response["Cache-Control"] = "no-store"
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
