"""Calibration: the bare app plus encryption at rest, the part no framework saves.

GET checks the X-Atlas-Token header as `bare_wsgi.py` does, then reads the
state's stored blob and decrypts it with atlas.blobs exactly as the server
answers it (whole below states.responses.WHOLE_BELOW, else in pieces of
STREAM_SEGMENTS segments). No database, no Django request handling: the
gap between this and `bare_wsgi.py` is what storing states encrypted costs
per read. Run under the same gunicorn settings as the real server, with
the server's data directory and the blob's name and key id:
`BENCH_BLOB_NAME=... BENCH_BLOB_KEY=... gunicorn bench.bare_decrypt:app`.
"""

import base64
import hmac
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas.settings")

import django

django.setup()

from atlas.blobs import open_blob, read_blob  # noqa: E402
from states.responses import STREAM_SEGMENTS, WHOLE_BELOW  # noqa: E402

TOKEN = os.environ.get("BENCH_TOKEN", "").encode()
NAME, KEY_ID = os.environ.get("BENCH_BLOB_NAME", ""), os.environ.get("BENCH_BLOB_KEY", "")
SIZE = int(os.environ.get("BENCH_BLOB_SIZE", "0"))
MD5 = base64.b64encode(bytes.fromhex(os.environ.get("BENCH_BLOB_MD5", "00"))).decode()


def app(environ, start_response):
    given = environ.get("HTTP_X_ATLAS_TOKEN", "").encode()
    if not hmac.compare_digest(given, TOKEN) or not NAME:
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        return [b'{"errors": {"base": ["bad token"]}}']
    if SIZE < WHOLE_BELOW:
        body = [read_blob(NAME, KEY_ID)]
    else:
        body = open_blob(NAME, KEY_ID, STREAM_SEGMENTS)
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-MD5", MD5),
            ("Content-Length", str(SIZE)),
        ],
    )
    return body
