"""The only way from a run to this server's API, and the only holder of the
run's token.

Terraform inside a run talks to Atlas through the worker: `ATLAS_ADDRESS`
points at this relay on the worker's loopback (the one port forwarded into
an isolated run's network), and `ATLAS_TOKEN` is a placeholder. The relay
forwards requests under `/api/v1/` to the server (ATLAS_RUN_ADDRESS) with the
real run token in `X-Atlas-Token`, whatever token the request carried. So
the token never exists inside the sandbox: a `terraform_remote_state` whose
`address` points elsewhere, or any code of the run, can send the placeholder
anywhere, and nothing that works on this server. What the token may do is
decided by the server (`accounts.privileges.run_token_allows`).

Each connection is served on a thread of its own, at most MAX_CONNECTIONS
at once, with socket timeouts on both sides: a run that opens connections
and sends nothing holds a few threads until their timeout, never the worker.
"""

import http.client
import http.server
import json
import logging
import socket
import threading
from contextlib import suppress
from urllib.parse import urlsplit

logger = logging.getLogger("atlas.runs")

PREFIX = "/api/v1/"
PLACEHOLDER_TOKEN = "atlas-run-token-held-by-the-worker"
MAX_CONNECTIONS = 16
CLIENT_TIMEOUT_SECONDS = 60
UPSTREAM_TIMEOUT_SECONDS = 300
CHUNK = 256 * 1024
# What a client may tell the server; everything else (cookies, other
# credentials, forwarding headers) stays behind.
REQUEST_HEADERS = ("Content-Type", "Content-MD5", "Accept", "Accept-Encoding", "User-Agent")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
}


class RelayError(Exception):
    """The relay cannot start."""


def _json_error(status, message):
    return status, json.dumps({"errors": {"base": [message]}}).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection
    timeout = CLIENT_TIMEOUT_SECONDS
    server_version = "atlas-run-relay"
    sys_version = ""

    def log_message(self, *args):
        pass

    def _refuse(self, status, message):
        status, body = _json_error(status, message)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _relay(self):
        relay = self.server.relay
        path = self.path
        if not path.startswith(PREFIX) or "/../" in path or "/./" in path or "\\" in path:
            return self._refuse(404, "Not found.")
        if self.headers.get("Transfer-Encoding"):
            return self._refuse(411, "Send a Content-Length.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._refuse(400, "Bad Content-Length.")
        if length < 0 or length > relay.max_body:
            return self._refuse(413, "The request body is too large.")
        try:
            upstream = relay.connect()
            upstream.putrequest(self.command, relay.base_path + path, skip_accept_encoding=True)
            for name in REQUEST_HEADERS:
                if self.headers.get(name) is not None:
                    upstream.putheader(name, self.headers[name])
            upstream.putheader("X-Atlas-Token", relay.token)
            upstream.putheader("Content-Length", str(length))
            upstream.endheaders()
            remaining = length
            while remaining:
                data = self.rfile.read(min(CHUNK, remaining))
                if not data:
                    return
                upstream.send(data)
                remaining -= len(data)
            response = upstream.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            logger.warning("Run relay to %s failed: %s", relay.upstream, exc)
            return self._refuse(502, "The Atlas server cannot be reached from the worker.")
        try:
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.end_headers()
            while data := response.read(CHUNK):
                self.wfile.write(data)
        finally:
            upstream.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _relay

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except OSError:
            self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = MAX_CONNECTIONS

    def __init__(self, relay):
        self.relay = relay
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.open_sockets = set()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many at once: refused
            return
        request.settimeout(CLIENT_TIMEOUT_SECONDS)
        with self.lock:
            self.open_sockets.add(request)
        try:
            super().process_request(request, client_address)
        except Exception:
            self._done(request)
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done(request)

    def _done(self, request):
        with self.lock:
            if request in self.open_sockets:
                self.open_sockets.discard(request)
                self.slots.release()

    def close_all(self):
        with self.lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Relay:
    """One phase's relay: `start()` gives its port, `close()` ends it."""

    def __init__(self, upstream, token, max_body):
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RelayError(f"ATLAS_RUN_ADDRESS is not an http(s) URL: {upstream!r}")
        self.upstream = upstream
        self.scheme, self.netloc = parts.scheme, parts.netloc
        self.base_path = parts.path.rstrip("/")
        self.token = token
        self.max_body = max_body
        self.server = None
        self.thread = None

    def connect(self):
        connection_class = (
            http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        )
        return connection_class(self.netloc, timeout=UPSTREAM_TIMEOUT_SECONDS)

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def address(self):
        """ATLAS_ADDRESS for Terraform inside the run."""
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        try:
            self.server = _Server(self)
        except OSError as exc:
            raise RelayError(f"The worker cannot listen for its run: {exc}") from None
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"run-relay-{self.port}",
            daemon=True,
        )
        self.thread.start()
        return self.port

    def close(self):
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server.close_all()
        self.thread.join(timeout=5)
        self.server = None
