"""One bounded HTTP POST to a checked address.

The host is resolved and every address checked (`destinations.resolve`),
then the connection goes to that very address, with the URL's host name in
the `Host` header and, for https, in SNI and certificate verification. The
whole exchange, slow or dripping receivers included, is bounded by one
deadline: a watchdog shuts the socket when it passes. At most
ATLAS_NOTIFY_MAX_RESPONSE_BYTES of the answer are read; the rest is
ignored. Redirects are not followed (a redirect could point anywhere).
"""

import http.client
import socket
import ssl
import threading
import time
from contextlib import suppress
from dataclasses import dataclass

from django.conf import settings

from .destinations import DestinationRefused, parse, resolve

USER_AGENT = "Atlas-Notifications/1"
EXCERPT_CHARS = 300


@dataclass
class Response:
    """What became of one hand-over: an HTTP status and the start of the
    answer, or an error; `refused` when retrying cannot help. A channel
    without statuses (email) succeeds with neither."""

    status: int | None = None
    excerpt: str = ""
    error: str = ""
    refused: bool = False
    latency_ms: int = 0

    @property
    def ok(self):
        return not self.error and (self.status is None or 200 <= self.status < 300)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


class _Watchdog:
    """Shuts the connection's socket when the deadline passes."""

    def __init__(self, connection, seconds):
        self.connection = connection
        self.fired = False
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True

    def _fire(self):
        self.fired = True
        sock = self.connection.sock
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


def post(url, body, headers, timeout=None):
    """POST `body` (bytes) to `url`; a Response, never an exception."""
    timeout = float(timeout or settings.ATLAS_NOTIFY_TIMEOUT_SECONDS)
    started = time.monotonic()
    response = Response()
    try:
        destination = parse(url)
        address = resolve(destination)[0]
    except DestinationRefused as exc:
        response.error, response.refused = f"Refused: the URL {exc}.", True
        return response
    except LookupError as exc:
        response.error = str(exc)
        return response
    cls = _PinnedHTTPSConnection if destination.scheme == "https" else _PinnedHTTPConnection
    connection = cls(destination.host, destination.port, address, timeout)
    limit = settings.ATLAS_NOTIFY_MAX_RESPONSE_BYTES
    watchdog = _Watchdog(connection, timeout)
    try:
        with watchdog:
            connection.request(
                "POST",
                destination.target,
                body=body,
                headers={"User-Agent": USER_AGENT, "Connection": "close", **headers},
            )
            answer = connection.getresponse()
            response.status = answer.status
            data = answer.read(limit)
            response.excerpt = data.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    except Exception as exc:  # every network failure is an outcome to record
        # The socket's own timeout is the same deadline as the watchdog's:
        # whichever notices first, no complete answer came within it.
        if watchdog.fired or isinstance(exc, TimeoutError | socket.timeout):
            response.error = f"No complete answer within {timeout:g} s."
        else:
            response.error = _describe(exc)
        response.status = None
    finally:
        connection.close()
        response.latency_ms = int((time.monotonic() - started) * 1000)
    if response.status is not None and 300 <= response.status < 400:
        response.error = "Redirects are not followed: use the final URL."
    return response


def _describe(exc):
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message}."
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused."
    if isinstance(exc, http.client.HTTPException):
        return f"Not a valid HTTP answer ({type(exc).__name__})."
    text = str(exc) or type(exc).__name__
    return text[:300]
