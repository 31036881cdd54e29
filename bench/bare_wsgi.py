"""The baseline: a bare WSGI app doing the least the real endpoints must do.

GET checks the X-Atlas-Token header and returns the state bytes (read once
at start) with their MD5; PUT reads the body in chunks, hashes it (MD5 and
SHA-256, as the server does) and writes it to disk. Run under the same
gunicorn settings as the real server: `gunicorn bench.bare_wsgi:app`.
"""

import base64
import hashlib
import hmac
import os
import uuid
from pathlib import Path

TOKEN = os.environ.get("BENCH_TOKEN", "").encode()
BODY = Path(os.environ["BENCH_BODY"]).read_bytes() if os.environ.get("BENCH_BODY") else b"{}"
MD5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()
OUT = Path(os.environ.get("BENCH_OUT", "/tmp"))
CHUNK = 256 * 1024


def app(environ, start_response):
    given = environ.get("HTTP_X_ATLAS_TOKEN", "").encode()
    if not hmac.compare_digest(given, TOKEN):
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        return [b'{"errors": {"base": ["bad token"]}}']
    if environ["REQUEST_METHOD"] == "PUT":
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
        md5, sha256 = hashlib.md5(), hashlib.sha256()
        stream = environ["wsgi.input"]
        with open(OUT / uuid.uuid4().hex, "wb") as handle:
            while remaining:
                chunk = stream.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                handle.write(chunk)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-MD5", MD5),
            ("Content-Length", str(len(BODY))),
        ],
    )
    return [BODY]
